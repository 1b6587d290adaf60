"""TcpBench: the Robot Framework keyword library.

Keywords are thin: they take the DUT, call `bench.measure` and `bench.verdict`, log the
evidence, and fail with what was expected, what was measured, the tolerance and where
the evidence is. Suite scope: one DUT session per suite.
"""

from __future__ import annotations

from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from bench.inventory import Inventory, load
from bench.lab.access import DutSession
from bench.robot.session import RunRecorder
from firmware_adapters.dut import Dut, Hello


@library(scope="SUITE", auto_keywords=False)
class TcpBench:
    """Keywords that check a DUT's TCP behaviour against its profile.

    Import with the inventory file: ``Library  bench.robot.library.TcpBench  inventory.yaml``.
    """

    def __init__(self, inventory: str = "inventory.yaml") -> None:
        self.inventory_path = inventory
        self._inventory: Inventory | None = None
        self._session: DutSession | None = None
        self.dut: Dut | None = None
        self.dut_name = ""
        self.hello: Hello | None = None

    # -- plumbing --------------------------------------------------------------------
    @property
    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = load(self.inventory_path)
        return self._inventory

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

    # -- setup and teardown ------------------------------------------------------------
    @keyword("Take DUT")
    def take_dut(self, name: str) -> None:
        """Take the DUT for this suite, exclusively (waits for pabot's value set first
        when running in parallel; fails at once if another process holds it)."""
        if BuiltIn().get_variable_value("${PABOTLIBURI}", None):
            from pabot.pabotlib import PabotLib

            PabotLib().acquire_value_set(name)
        consoles = self._run_dir() / "consoles"
        self._session = DutSession(self.inventory, name, consoles, timeout_s=5.0)
        self.dut = self._session.__enter__()
        self.dut_name = name
        self.hello = self.dut.hello()
        entry = self.inventory.dut(name)
        BuiltIn().set_suite_metadata("DUT", name, top=False)
        BuiltIn().set_suite_metadata("Firmware build", self.hello.build, top=False)
        BuiltIn().set_suite_metadata("Profile", entry.profile, top=False)
        logger.info(f"took {name}: {self.hello.stack} build {self.hello.build}, "
                    f"profile {entry.profile}")

    @keyword("Release DUT")
    def release_dut(self) -> None:
        """Give the DUT back (suite teardown)."""
        if self._session is not None:
            self._session.__exit__(None, None, None)
            self._session = None
            self.dut = None
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

    # -- checks ----------------------------------------------------------------------------
    @keyword("DUT Should Answer Hello With Protocol Version 1")
    def dut_should_answer_hello(self) -> None:
        """The console answers `hello` with protocol 1, a stack name and a build id."""
        hello = self.require_dut().hello()
        if hello.proto != 1 or not hello.build or hello.build == "?":
            raise AssertionError(f"expected proto=1 and a build id, got proto={hello.proto} "
                                 f"build={hello.build!r}")
        logger.info(f"{hello.name}: {hello.stack} build {hello.build}")
