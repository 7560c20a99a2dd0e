"""The ``spine-ib`` worker's connection: connect with back-off (tenacity), 326, the account and port checks,
IB's connectivity notices (1100 / 1101 / 1102) and the heartbeat.

A mixin of ``spine.ib.worker.IBWorker``: ``self`` is the worker, whose state is set up there."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ib_async.ib import StartupFetchNONE
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
)

from spine.core.errors import ClientIdInUse, ConnectFailed, FetchFailed, Refused
from spine.ib.codes import CONNECTIVITY_CODES, ORDER_ERROR_CODES, ErrorCode
from spine.ib.outbox import ConnectFailure
from spine.ib.records import (
    SessionError,
    SessionState,
)
from spine.safety.envelope import is_paper_account


class ConnectionMixin:
    """Connect, reconnect, notices and heartbeat (runs on the ``spine-ib`` loop)."""

    async def _backoff_sleep(self, seconds: float) -> None:
        """tenacity's sleep, cut short by ``stop()`` so a session backing off still stops at once."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _connect_with_backoff(self) -> None:
        def give_up(state: RetryCallState) -> bool:
            if self._stopping:
                return True
            if self._client_id_refusals >= self.s.client_id_max_attempts:
                return True
            return bool(self.s.reconnect_max_attempts) and state.attempt_number >= self.s.reconnect_max_attempts

        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self.s.backoff_initial_secs, max=self.s.backoff_max_secs),
            sleep=self._backoff_sleep,
            stop=give_up,
            retry=retry_if_exception_type(ConnectFailed),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._connect_once()
        except ClientIdInUse:
            if not self._stopping:
                self._connect_failed(
                    f"client id {self.s.client_id} is in use at {self.s.host}:{self.s.port} after "
                    f"{self._client_id_refusals} attempts (error 326): another connection holds it; stop it or "
                    "pick another client id (--client-id, trading.ib.client_id)",
                    final=True,
                )
            raise
        except (ConnectFailed, Refused):
            failure = self.outbox.connect_failure
            if failure is not None and not self._stopping:
                self.outbox.publish_connect_failure(ConnectFailure(failure.message, final=True))
            raise

    def _where(self) -> str:
        return f"{self.s.host}:{self.s.port} (client id {self.s.client_id})"

    def _connect_failed(self, message: str, *, final: bool = False) -> str:
        """Publish why the connect attempt failed (the outbox's ``connect_failure``); the message."""
        self.outbox.publish_connect_failure(ConnectFailure(message, final))
        return message

    def _why_connect_failed(self, exc: BaseException, api_errors: list[str]) -> str:
        """The words for a failed connect attempt: what failed, naming host, port and client id."""
        where = self._where()
        version = next((m for m in api_errors if "version" in m.lower()), "")
        if version:
            return f"{where} speaks a server version this client does not support ({version}); update TWS / IB Gateway"
        if isinstance(exc, ConnectionRefusedError):
            return (
                f"connection refused at {where}: nothing listens on that port; start TWS or IB Gateway with its "
                "API enabled there, or fix trading.ib.host / trading.ib.port"
            )
        if isinstance(exc, TimeoutError):
            return (
                f"no answer from {where} within {self.s.connect_timeout_secs:g} s: nothing completed the TWS API "
                "handshake (is it TWS / IB Gateway, with its API enabled, on that port?)"
            )
        detail = str(exc) or type(exc).__name__
        if api_errors:
            detail = f"{detail} ({api_errors[-1]})"
        return f"connecting to {where} failed: {detail}"

    async def _connect_once(self) -> None:
        refusal = self.s.refuses_port()
        if refusal:
            raise Refused(self._connect_failed(f"{self._where()}: {refusal}", final=True))
        self._set_state(
            SessionState.CONNECTING, f"connecting to {self.s.host}:{self.s.port} as client {self.s.client_id}"
        )
        self._connect_errors.clear()
        api_errors: list[str] = []

        def on_api_error(message: str) -> None:
            api_errors.append(str(message))

        self.ib.client.apiError += on_api_error
        try:
            await self.ib.connectAsync(self.s.host, self.s.port, clientId=self.s.client_id,
                                       timeout=self.s.connect_timeout_secs, fetchFields=StartupFetchNONE)  # fmt: skip
        except (OSError, TimeoutError, ConnectionError) as exc:
            if ErrorCode.CLIENT_ID_IN_USE in self._connect_errors:
                self._client_id_refusals += 1
                self._connect_failed(f"client id {self.s.client_id} is already in use at {self.s.host}:{self.s.port} "
                                     "(error 326): another connection holds it")  # fmt: skip
                self._set_state(SessionState.DISCONNECTED, f"client id {self.s.client_id} in use (326); backing off")
                raise ClientIdInUse(str(exc)) from exc
            why = self._connect_failed(self._why_connect_failed(exc, api_errors))
            self._set_state(SessionState.DISCONNECTED, f"{why}; backing off")
            raise ConnectFailed(why) from exc
        finally:
            self.ib.client.apiError -= on_api_error
        self._client_id_refusals = 0
        self._disconnected.clear()  # a failed earlier attempt's disconnect event must not end this connection
        accounts = list(self.ib.managedAccounts())
        wanted = self.s.paper_account.strip()
        account = wanted if wanted else (accounts[0] if len(accounts) == 1 else "")
        if not account or account not in accounts:
            self.ib.disconnect()
            raise Refused(
                self._connect_failed(
                    f"account {wanted or '(any)'} is not managed by this login at {self._where()} (it manages "
                    f"{', '.join(accounts) or 'no account'}); set trading.execution.paper_account",
                    final=True,
                )
            )
        if not is_paper_account(account):
            self.ib.disconnect()
            raise Refused(
                self._connect_failed(
                    f"account {account} is not a paper account (paper ids start with D) at {self._where()}; "
                    "the paper session refuses it",
                    final=True,
                )
            )
        self._account = account
        self.outbox.publish_connect_failure(None)

    def _on_error(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        if self._state is SessionState.CONNECTING:
            self._connect_errors.append(code)
        if req_id > 0 and code in ORDER_ERROR_CODES:
            self._on_order_error(req_id, code, message)
        kept = code == ErrorCode.CONNECTIVITY_RESTORED_DATA_MAINTAINED
        if code == ErrorCode.CONNECTIVITY_LOST:
            self._set_state(SessionState.DEGRADED, "IB lost its connection (1100): no new risk; cancels still go")
        elif kept or code == ErrorCode.CONNECTIVITY_RESTORED_DATA_LOST:
            why = "1102" if kept else "1101"
            asyncio.get_running_loop().create_task(self._after_restore(why, light=kept))
        if (
            code in CONNECTIVITY_CODES
            or code == ErrorCode.CLIENT_ID_IN_USE
            or code >= 2000
            and code != ErrorCode.MARGIN_WARNING
        ):
            self._emit(SessionError(code, message, req_id))
            return
        if code == ErrorCode.MARGIN_WARNING:  # account-wide or on an order: no new risk until the operator looks
            self._halt(f"IB margin warning (2148): {message}")
        self._emit(SessionError(code, message, req_id))

    async def _after_restore(self, why: str, *, light: bool) -> None:
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self.s.backoff_initial_secs, max=self.s.backoff_max_secs),
            sleep=self._backoff_sleep,
            stop=lambda _s: self._stopping or not self.ib.isConnected(),
            retry=retry_if_exception_type(FetchFailed),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._sync(why, light=light)
        except FetchFailed:
            return

    def _on_disconnected(self) -> None:
        self._disconnected.set()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.s.heartbeat_secs)
            if not self.ib.isConnected() or self._state in (SessionState.CONNECTING, SessionState.DISCONNECTED):
                continue
            try:
                await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.s.request_timeout_secs)
            except Exception as exc:  # noqa: BLE001 - any failure of the heartbeat means reconnect
                self._emit(
                    SessionError(0, f"heartbeat: reqCurrentTime got no answer ({type(exc).__name__}); reconnecting")
                )
                self.ib.disconnect()
