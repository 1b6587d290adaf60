"""TcpBench: the Robot Framework keyword library.

Keywords are thin: they take the DUT, call `bench.measure` and `bench.verdict`, log the
evidence, and fail with what was expected, what was measured, the tolerance and where
the evidence is. Suite scope: one DUT session per suite.

The behaviour keywords (``When The Peer Ignores The DUT's SYNs``, ``Then The DUT Should
Retransmit SYN As Its Profile Says``) are generated from the table in
`bench.robot.behaviours`: a *When* keyword runs one measurement, a *Then* keyword judges
figures of it against the DUT's profile.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from bench.inventory import Inventory, load
from bench.inventory.models import DutKind
from bench.lab.access import DutSession
from bench.lab.recovery import NoPowerPath, Recovery, recover
from bench.lab.watchdog import DutWatchdog
from bench.measure.cli import options_from, parse_option
from bench.model import Peer
from bench.profiles import Profile, load_profile
from bench.robot import behaviours
from bench.robot.experiment import (
    Experiment,
    Judged,
    judge_all,
    record,
    relative,
    run_measurement,
    slug,
)
from bench.robot.guard import DutHung, run_watched
from bench.robot.session import RunRecorder
from bench.verdict import Outcome
from firmware_adapters.dut import Dut, Hello
from firmware_adapters.errors import ConsoleBusy

PICTURES = (".png", ".svg")


@library(scope="SUITE", auto_keywords=False)
class TcpBench:
    """Keywords that check a DUT's TCP behaviour against its profile.

    Import with the inventory file: ``Library  bench.robot.library.TcpBench  inventory.yaml``.

    Every measurement keyword writes the reference peer's capture into
    ``pcaps/<DUT>/<suite>/<test>/`` of the run folder, judges every figure against the
    DUT's profile (``bench/profiles``) and records figure and verdict in the run's
    results.json. A watchdog pings the DUT while a measurement runs: a DUT that stops
    answering fails the test within seconds and is power-cycled, and the suite goes on.
    """

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, inventory: str = "inventory.yaml", watchdog_period_s: float = 1.0,
                 watchdog_misses: int = 5) -> None:
        self.ROBOT_LIBRARY_LISTENER = self
        self.inventory_path = inventory
        self.watchdog_period_s = float(watchdog_period_s)
        self.watchdog_misses = int(watchdog_misses)
        self._inventory: Inventory | None = None
        self._session: DutSession | None = None
        self._profile: Profile | None = None
        self.dut: Dut | None = None
        self.dut_name = ""
        self.hello: Hello | None = None
        self.test_name = ""
        self.test_dir: Path | None = None
        self.experiments: dict[str, Experiment] = {}
        self._console_offset = 0

    # -- plumbing --------------------------------------------------------------------
    @property
    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = load(self.inventory_path)
        return self._inventory

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = load_profile(self.inventory.dut(self.dut_name).profile)
        return self._profile

    def _run_dir(self) -> Path:
        value = BuiltIn().get_variable_value("${RUN_DIR}", None)
        if value:
            return Path(value)
        return Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))

    def recorder(self) -> RunRecorder:
        return RunRecorder(self._run_dir())

    def require_dut(self) -> Dut:
        if self.dut is None:
            raise AssertionError("no DUT taken: the suite setup must call 'Take DUT'")
        return self.dut

    def _console_log(self) -> Path:
        return self._run_dir() / "consoles" / f"console-{self.dut_name}.log"

    def _open_session(self) -> None:
        session = DutSession(self.inventory, self.dut_name, self._run_dir() / "consoles",
                             timeout_s=5.0)
        try:
            self.dut = session.__enter__()
        except ConsoleBusy as exc:  # "DUT lwip-m3 is busy (held by pid N since T)"
            raise AssertionError(str(exc).removeprefix(f"{self.dut_name}: ")) from None
        self._session = session

    def _close_session(self) -> None:
        if self._session is not None:
            try:
                self._session.__exit__(None, None, None)
            finally:
                self._session = None
                self.dut = None

    # -- listener: per-test evidence --------------------------------------------------
    def start_test(self, data: Any, result: Any) -> None:  # noqa: ARG002 (listener API)
        self.test_name = result.name
        self.experiments = {}
        self.test_dir = None
        log = self._console_log() if self.dut_name else None
        self._console_offset = log.stat().st_size if log is not None and log.exists() else 0

    def end_test(self, data: Any, result: Any) -> None:  # noqa: ARG002 (listener API)
        if not self.dut_name:
            return
        self._log_console_excerpt()
        if result.failed and self.dut is not None:
            self._reset_after_failure()

    def _test_dir(self) -> Path:
        if self.test_dir is None:
            suite = BuiltIn().get_variable_value("${SUITE NAME}", "suite")
            self.test_dir = (self._run_dir() / "pcaps" / self.dut_name / slug(suite)
                             / slug(self.test_name or "setup"))
        return self.test_dir

    def _link(self, path: str | None, label: str | None = None) -> str:
        rel = relative(path, self._run_dir())
        if not rel:
            return ""
        return f'<a href="{html.escape(rel)}">{html.escape(label or rel)}</a>'

    def _log_console_excerpt(self) -> None:
        log = self._console_log()
        if not log.exists():
            return
        with open(log, encoding="utf-8", errors="replace") as handle:
            handle.seek(self._console_offset)
            text = handle.read()
        if text.strip():
            lines = text.splitlines()
            shown = lines[-60:]
            more = f"({len(lines) - len(shown)} earlier lines in the log)\n" if len(
                lines) > len(shown) else ""
            logger.info(f"console {self._link(str(log))} during this test:<pre>{more}"
                        f"{html.escape(chr(10).join(shown))}</pre>", html=True)

    def _reset_after_failure(self) -> None:
        """A failed test may leave connections behind; a reset gives the next test a
        clean DUT (Linux agent: restarts; lwIP: reboots and gets its link again)."""
        dut = self.require_dut()
        try:
            hello = dut.reboot()
            entry = self.inventory.dut(self.dut_name)
            if entry.kind is not DutKind.SIM_LINUX:
                dut.link_set(addr=str(entry.link.address), mtu=entry.link.mtu)
            logger.info(f"reset {self.dut_name} after the failure: build {hello.build}")
        except Exception as exc:  # noqa: BLE001 (a failed reset is reported, not raised)
            logger.warn(f"could not reset {self.dut_name} after the failure: {exc}")

    # -- setup and teardown ------------------------------------------------------------
    @keyword("Take DUT")
    def take_dut(self, name: str) -> None:
        """Take the DUT for this suite, exclusively (waits for pabot's value set first
        when running in parallel; fails at once if another process holds it)."""
        if BuiltIn().get_variable_value("${PABOTLIBURI}", None):
            from pabot.pabotlib import PabotLib

            PabotLib().acquire_value_set(name)
        self.inventory.dut(name)  # an unknown DUT fails here, with the known names
        self.dut_name = name
        self._profile = None
        self._open_session()
        self.hello = self.require_dut().hello()
        entry = self.inventory.dut(name)
        BuiltIn().set_suite_metadata("DUT", name, top=False)
        BuiltIn().set_suite_metadata("Firmware build", self.hello.build, top=False)
        BuiltIn().set_suite_metadata("Profile", entry.profile, top=False)
        logger.info(f"took {name}: {self.hello.stack} build {self.hello.build}, "
                    f"profile {entry.profile}")

    @keyword("Release DUT")
    def release_dut(self) -> None:
        """Give the DUT back (suite teardown)."""
        self._close_session()
        if BuiltIn().get_variable_value("${PABOTLIBURI}", None):
            from pabot.pabotlib import PabotLib

            PabotLib().release_value_set()

    @keyword("DUT Identity")
    def dut_identity(self) -> dict[str, str]:
        """Name, stack, build and profile of the DUT under test (the listener stamps tests
        with these)."""
        entry = self.inventory.dut(self.dut_name)
        hello = self.hello
        return {"dut": self.dut_name, "stack": hello.stack if hello else "",
                "build": hello.build if hello else "", "profile": entry.profile}

    # -- measuring and judging -----------------------------------------------------------
    @keyword("Measure")
    def measure(self, name: str, **options: str) -> None:
        """Run measurement ``name`` (``hilbench measure --help`` lists them) with the
        options the DUT's profile gives it, ``options`` on top (JSON values:
        ``window_s=[1.5,3]``), and judge every figure against the profile.

        The figures are kept for the *Then* keywords of this test and written, with
        their verdicts and evidence, into the run's results.json.
        """
        dut = self.require_dut()
        parsed = options_from([parse_option(f"{k}={v}") for k, v in options.items()])
        peers: list[Peer] = []
        evidence_dir = self._test_dir() / name

        def work() -> Any:
            return run_measurement(self.inventory, self.dut_name, dut, self.profile, name,
                                   evidence_dir, parsed, on_peer=peers.append)

        watchdog = DutWatchdog.for_dut(self.inventory, self.dut_name, self.watchdog_period_s,
                                       self.watchdog_misses)
        try:
            m = run_watched(work, watchdog)
        except DutHung as exc:
            for peer in peers:
                peer.close()
            raise DutHung(f"{exc}; {self._recover()}") from None
        entry = self.inventory.dut(self.dut_name)
        experiment = judge_all(m, dut, self.profile, {"link_mtu": entry.link.mtu})
        self.experiments[name] = experiment
        recorder = self.recorder()
        build = self.hello.build if self.hello else ""
        for judged in experiment.figures:
            recorder.append("measurements", record(judged, self._run_dir(), self.test_name,
                                                   self.dut_name, build, entry.profile))
        self._log_experiment(experiment)

    def _recover(self) -> str:
        """Power-cycle the hung DUT with a fresh console session; say what was done."""
        self._close_session()
        try:
            self._open_session()
            done: Recovery = recover(self.inventory, self.dut_name, self.require_dut())
        except NoPowerPath as exc:
            return f"not recovered: {exc}"
        except Exception as exc:  # noqa: BLE001 (the test fails either way; say why)
            return f"recovery failed: {exc}"
        self.recorder().append("recoveries", {
            "test": self.test_name, "dut": self.dut_name, "thawed": done.thawed,
            "power": done.cycle.resource, "started_at": done.cycle.started_at.isoformat(),
            "boot_s": done.boot_s, "build": done.build})
        thawed = " (its stopped QEMU thawed first)" if done.thawed else ""
        return (f"power-cycled through {done.cycle.resource}{thawed}, booted again in "
                f"{done.boot_s:.1f} s, build {done.build}")

    def _log_experiment(self, experiment: Experiment) -> None:
        rows = []
        for judged in experiment.figures:
            m, v = judged.measurement, judged.verdict
            rows.append(f"<tr><td>{html.escape(m.name)}</td><td>{html.escape(str(m.value))} "
                        f"{html.escape(m.unit)}</td><td>{html.escape(str(v.expected))}</td>"
                        f"<td>{v.outcome.value}</td></tr>")
        first = experiment.figures[0].measurement if experiment.figures else None
        links = ""
        if first is not None:
            links = self._link(first.evidence.pcap)
            pictures = [f for f in first.evidence.files if f.endswith(PICTURES)]
            shown = [html.escape(relative(f, self._run_dir()) or f) for f in pictures]
            links += "".join(f'<br><img src="{src}" width="640">' for src in shown)
        logger.info(f"<b>{html.escape(experiment.name)}</b> on {self.dut_name} "
                    f"(profile {self.profile.name}): capture {links}<table border=1>"
                    "<tr><th>figure</th><th>measured</th><th>expected</th><th>verdict</th></tr>"
                    f"{''.join(rows)}</table>", html=True)

    def _judged(self, figure: str) -> list[Judged]:
        """Every judged figure of that name measured in this test (largest_payload_bytes
        comes once per peer MSS), from the latest measurement that gave it."""
        for experiment in reversed(list(self.experiments.values())):
            found = [j for j in experiment.figures if j.measurement.name == figure]
            if found:
                return found
        ran = ", ".join(self.experiments) or "none"
        raise AssertionError(f"no figure {figure!r} measured in this test (measurements "
                             f"run: {ran}); a When keyword must measure it first")

    @keyword("Figure Should Match The Profile")
    def figure_should_match_profile(self, figure: str) -> None:
        """Fail when ``figure`` (measured earlier in this test) does not match the DUT's
        profile. A documented deviation passes, tagged ``deviation`` with the reason."""
        problems = []
        for judged in self._judged(figure):
            verdict = judged.verdict
            if verdict.outcome is Outcome.FAIL:
                problems.append(verdict.message)
            elif verdict.outcome is Outcome.DEVIATION:
                BuiltIn().set_tags("deviation")
                logger.warn(f"{self.dut_name}: {verdict.message}")
            elif verdict.outcome is Outcome.NOT_JUDGED:
                logger.info(f"not judged: {verdict.message}")
            else:
                logger.info(verdict.message)
        if problems:
            raise AssertionError("\n".join(problems))

    @keyword("Figures Should Match The Profile")
    def figures_should_match_profile(self, *figures: str) -> None:
        """Judge several figures; every mismatch is reported, not only the first.
        A name ending in ``?`` is optional: absent (not observable this time) is fine."""
        problems = []
        for name in figures:
            optional = name.endswith("?")
            try:
                self.figure_should_match_profile(name.rstrip("?"))
            except AssertionError as exc:
                if optional and str(exc).startswith("no figure"):
                    logger.info(f"{name.rstrip('?')}: not observable in this run")
                    continue
                problems.append(str(exc))
        if problems:
            raise AssertionError("\n".join(problems))

    # -- checks ----------------------------------------------------------------------------
    @keyword("The DUT Is Ready")
    def the_dut_is_ready(self) -> None:
        """The DUT answers its console and its link is up with the inventory's address."""
        dut = self.require_dut()
        link = dut.link()
        entry = self.inventory.dut(self.dut_name)
        if link.get("up") != "1" or link.get("addr") != str(entry.link.address):
            raise AssertionError(f"{self.dut_name} is not ready: link {link} (expected up=1 "
                                 f"addr={entry.link.address})")

    @keyword("DUT Should Answer Hello With Protocol Version 1")
    def dut_should_answer_hello(self) -> None:
        """The console answers `hello` with protocol 1, a stack name and a build id."""
        hello = self.require_dut().hello()
        if hello.proto != 1 or not hello.build or hello.build == "?":
            raise AssertionError(f"expected proto=1 and a build id, got proto={hello.proto} "
                                 f"build={hello.build!r}")
        logger.info(f"{hello.name}: {hello.stack} build {hello.build}")


behaviours.add_keywords(TcpBench)
