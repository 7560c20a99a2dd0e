"""Connecting: handshake, account values, positions, client ids, loopback only, robustness."""

from __future__ import annotations

import socket
import struct
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import IB, MarketOrder, Stock

from spine.core.errors import InputError
from spine.gateway import SERVER_VERSION, GatewaySettings, GatewaySimulator
from spine.gateway.protocol import decode_payload, encode_frame

REQUIRED_TAGS = (
    "NetLiquidation",
    "TotalCashValue",
    "AvailableFunds",
    "FullAvailableFunds",
    "BuyingPower",
    "EquityWithLoanValue",
    "InitMarginReq",
    "MaintMarginReq",
    "ExcessLiquidity",
)


def account_values(ib: IB) -> dict[str, Decimal]:
    return {v.tag: Decimal(v.value) for v in ib.accountValues() if v.currency == "USD" and v.tag in REQUIRED_TAGS}


def test_connect_negotiates_server_version_178_and_lists_the_paper_account(gateway, connect):
    ib = connect(gateway, 7)
    assert SERVER_VERSION == 178
    assert ib.client.serverVersion() == 178
    assert ib.managedAccounts() == ["DU0000001"]


def test_connect_reads_every_account_value_in_the_account_currency(start_gateway, connect):
    ib = connect(start_gateway(cash=250_000.0), 1)
    values = account_values(ib)
    assert set(values) == set(REQUIRED_TAGS)
    assert values["NetLiquidation"] == values["TotalCashValue"] == Decimal(250000)
    assert values["InitMarginReq"] == values["MaintMarginReq"] == 0
    assert values["AvailableFunds"] == values["BuyingPower"] == values["ExcessLiquidity"] == Decimal(250000)


def test_positions_and_account_values_follow_a_fill_marked_at_the_current_close(gateway, ib, wait_until):
    contract = Stock("ABC", "SMART", "USD")
    trade = ib.placeOrder(contract, MarketOrder("BUY", 10))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    gateway.step()  # bar 1 opens at 101 and closes at 102
    wait_until(ib, lambda: trade.orderStatus.status == "Filled", what="Filled")
    wait_until(ib, lambda: len(ib.positions()) == 1, what="position")
    (pos,) = ib.positions()
    assert (pos.contract.symbol, pos.position, pos.avgCost) == ("ABC", 10.0, 101.0)
    wait_until(ib, lambda: account_values(ib)["TotalCashValue"] == Decimal(998990), what="cash")
    values = account_values(ib)
    assert values["NetLiquidation"] == Decimal(998990) + 10 * Decimal(102)
    assert values["InitMarginReq"] == values["MaintMarginReq"] == Decimal(1020)
    (item,) = ib.portfolio()
    assert (item.position, item.marketPrice, item.unrealizedPNL) == (10.0, 102.0, 10.0)


def test_account_summary_reports_the_same_values(ib):
    summary = {v.tag: v.value for v in ib.accountSummary()}
    assert summary["NetLiquidation"] == "1000000.00"
    assert summary["AvailableFunds"] == "1000000.00"


def test_two_clients_connect_at_once_and_each_sees_only_its_own_orders(gateway, connect, wait_until):
    first, second = connect(gateway, 1), connect(gateway, 2)
    a = first.placeOrder(Stock("ABC", "SMART", "USD"), MarketOrder("BUY", 1, orderRef="one"))
    b = second.placeOrder(Stock("XYZ", "SMART", "USD"), MarketOrder("BUY", 2, orderRef="two"))
    wait_until(first, lambda: a.orderStatus.status == "Submitted" and b.orderStatus.status == "Submitted")
    gateway.step()
    wait_until(first, lambda: a.isDone() and b.isDone(), what="both fills")
    assert [f.execution.orderRef for f in first.fills()] == ["one"]
    assert [f.execution.orderRef for f in second.fills()] == ["two"]
    # Both see the one account's positions.
    wait_until(second, lambda: len(second.positions()) == 2, what="two positions")


def test_second_connection_with_a_client_id_in_use_gets_error_326(gateway, connect):
    connect(gateway, 5)
    intruder = IB()
    codes: list[int] = []
    intruder.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    with pytest.raises((ConnectionError, TimeoutError, OSError)):
        intruder.connect("127.0.0.1", gateway.port, clientId=5, timeout=2)
    intruder.disconnect()
    assert 326 in codes


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_server_refuses_to_bind_a_non_loopback_address(price_folder, host):
    with pytest.raises(InputError, match="loopback"):
        GatewaySimulator(GatewaySettings(data=(price_folder,), host=host, port=0))


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_addresses_are_accepted(price_folder, host):
    GatewaySettings(data=(price_folder,), host=host, port=0)


# -- malformed input --------------------------------------------------------------------


def _raw_connection(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = b"v157..178"
    sock.sendall(b"API\0" + struct.pack(">I", len(body)) + body)
    _read_frame(sock)  # server version and time
    return sock


def _read_frame(sock: socket.socket) -> list[str]:
    header = _read_exactly(sock, 4)
    return decode_payload(_read_exactly(sock, struct.unpack(">I", header)[0]))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    return data


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True


def test_truncated_requests_are_answered_with_error_321_and_the_session_survives(gateway):
    with _raw_connection(gateway.port) as sock:
        sock.sendall(encode_frame([71, 2, 9, ""]))  # startApi
        sock.sendall(encode_frame([3, 42, 0, "ABC"]))  # placeOrder cut short
        sock.sendall(encode_frame([20, "not-a-number"]))  # reqHistoricalData with a bad id
        sock.sendall(encode_frame([49, 1]))  # reqCurrentTime still answered afterwards
        seen: list[list[str]] = []
        while not seen or seen[-1][0] != "49":
            seen.append(_read_frame(sock))
        errors = [f for f in seen if f[0] == "4" and f[3] == "321"]
        assert [f[2] for f in errors] == ["42", "-1"]


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\n\r\n", b"API\0\xff\xff\xff\xff", b"API\0\x00\x00\x00\x04v1..2"],
    ids=["not-the-api", "absurd-length", "version-range-without-178"],
)
def test_garbage_closes_that_connection_and_the_server_keeps_serving(gateway, connect, garbage):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(garbage)
        assert _closed_by_server(sock)
    with _raw_connection(gateway.port) as sock:
        sock.sendall(encode_frame([71, 2, 3, ""]))
        sock.sendall(b"\x00\x00\x00\x40" + b"3\x0012")  # a frame cut off by the client going away
    assert connect(gateway, 4).isConnected()


def test_messages_before_start_api_or_of_unknown_type_get_an_error(gateway):
    with _raw_connection(gateway.port) as sock:
        sock.sendall(encode_frame([49, 1]))
        assert _read_frame(sock)[3] == "321"
        sock.sendall(encode_frame([71, 2, 3, ""]))
        sock.sendall(encode_frame([9999, 1]))
        frames = [_read_frame(sock) for _ in range(6)]
        assert any(f[0] == "4" and f[3] == "321" for f in frames)


def test_unknown_data_path_is_an_input_error(tmp_path: Path):
    from spine.gateway.thread import GatewayThread

    with pytest.raises(InputError):
        GatewayThread(GatewaySettings(data=(tmp_path / "missing.csv",), port=0)).start()
