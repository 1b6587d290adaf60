"""Every behaviour of the catalogue is checked by at least one Robot test, and the suites
pass Robot's dry run and robocop (so a lab engineer's run never fails on syntax)."""

from __future__ import annotations

import subprocess
import sys

from bench.robot.catalogue import CATALOGUE, ROOT, SUITES, behaviour_ids, tagged_tests


def test_the_catalogue_copy_lists_every_family() -> None:
    ids = behaviour_ids()
    assert len(ids) == len(set(ids)) >= 50
    assert {i[:2] for i in ids} == {"HS", "DT", "FC", "CC", "MS", "CL", "RS", "UD"}


def test_every_catalogue_id_is_a_tag_in_robot_suites() -> None:
    tagged = tagged_tests()
    missing = [i for i in behaviour_ids() if i not in tagged]
    assert not missing, f"no test in {SUITES} is tagged {', '.join(missing)} ({CATALOGUE})"


def test_every_id_tag_is_in_the_catalogue() -> None:
    unknown = set(tagged_tests()) - set(behaviour_ids())
    assert not unknown, f"tags that are not catalogue IDs (typo?): {sorted(unknown)}"


def test_suites_pass_robots_dry_run(tmp_path) -> None:  # noqa: ANN001
    run = subprocess.run([sys.executable, "-m", "robot", "--dryrun", "--output", "NONE",
                          "--report", "NONE", "--log", "NONE", "--outputdir", str(tmp_path),
                          str(SUITES)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:]


def test_libdoc_in_docs_lists_every_keyword_of_the_library() -> None:
    from robot.libdocpkg import LibraryDocumentation

    names = {kw.name for kw in LibraryDocumentation("bench.robot.library.TcpBench").keywords}
    page = (ROOT / "docs" / "TcpBench.html").read_text(encoding="utf-8")
    stale = sorted(n for n in names if f'"name": "{n}"' not in page
                   and f'"name":"{n}"' not in page)
    assert not stale, f"docs/TcpBench.html is out of date (run 'make libdoc'): {stale}"
