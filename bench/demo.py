"""`make demo`: the main job on the emulated lab, end to end, and always torn down.

Brings the lab up, exercises every simulated DUT over its console and its link (a
transfer each way with the pattern verified), writes a summary into a run folder, and
removes the lab again whatever happened. Then every Robot suite on the Linux host and the
lwIP ci-fast board, each run with its HTML report; the same suites on the stock and the
tuned lwIP firmware, and the regression report between those two builds. It ends by
opening every report it wrote in headless Chromium: a blank page or a broken local link
fails the demo.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.inventory import Inventory, InventoryError, load
from bench.lab import netns
from bench.lab.access import DutSession
from bench.lab.down import down
from bench.lab.up import up
from bench.report.html import REPORT_FILE

MB = 1_000_000
PATTERN_MOD = 251


def _pattern(length: int) -> bytes:
    block = bytes(range(PATTERN_MOD))
    return (block * (length // PATTERN_MOD + 1))[:length]


def _recv_all(sock: socket.socket, nbytes: int) -> bytes:
    data = bytearray()
    while len(data) < nbytes and (chunk := sock.recv(min(1 << 16, nbytes - len(data)))):
        data += chunk
    return bytes(data)


def transfer_both_ways(inv: Inventory, name: str, run_dir: Path, nbytes: int = MB) -> dict:
    """DUT -> bench and bench -> DUT, pattern checked on both ends; figures in MB/s."""
    dut_entry = inv.dut(name)
    bench_ns = f"{inv.lab.prefix}bench"
    bench_ip = str(inv.bench.address.ip)
    result: dict[str, object] = {"dut": name}
    with DutSession(inv, name, run_dir, timeout_s=5) as dut:
        hello = dut.hello()
        result.update(stack=hello.stack, build=hello.build)

        listener = netns.socket_in(bench_ns, socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((bench_ip, 5001))
        listener.listen(1)
        cid = dut.connect(bench_ip, 5001)
        conn, _ = listener.accept()
        dut.wait_event("connected", 10, id=str(cid))
        started = time.monotonic()
        dut.send(cid, nbytes)
        received = _recv_all(conn, nbytes)
        upload_s = time.monotonic() - started
        result["dut_to_bench_ok"] = received == _pattern(nbytes)
        result["dut_to_bench_MBps"] = round(nbytes / upload_s / 1e6, 2)
        dut.close_conn(cid)
        conn.close()
        listener.close()

        lid = dut.listen(5002, mode="check")
        client = netns.socket_in(bench_ns, socket.AF_INET, socket.SOCK_STREAM)
        client.connect((str(dut_entry.link.address.ip), 5002))
        started = time.monotonic()
        client.sendall(_pattern(nbytes))
        accepted = dut.wait_event("accepted", 10)
        acc_id = int(accepted.fields["id"])
        deadline = time.monotonic() + 60
        stat = dut.stat(acc_id)
        while int(stat.get("rx_bytes", 0)) < nbytes and time.monotonic() < deadline:
            time.sleep(0.02)
            stat = dut.stat(acc_id)
        download_s = time.monotonic() - started
        result["bench_to_dut_ok"] = int(stat.get("rx_bytes", 0)) == nbytes and \
            int(stat.get("rx_bad", 1)) == 0
        result["bench_to_dut_MBps"] = round(nbytes / download_s / 1e6, 2)
        client.close()
        dut.unlisten(lid)
        result["conns_after"] = [f"{c.state} {c.local} {c.remote}" for c in dut.conns()]
    return result


def run_suites(inv: Inventory, run_dir: Path, name: str, duts: list[str]) -> tuple[int, Path]:
    """Every suite on `duts`, in parallel (pabot), into results/<demo>-<name>/, reported."""
    from bench.report.html import write_report
    from bench.robot.runner import RunRequest
    from bench.robot.runner import run as run_robot

    request = RunRequest(duts=duts, results_root=run_dir.parent, processes=len(duts),
                         run_id=f"{run_dir.name}-{name}")
    rc, folder = run_robot(inv, Path("inventory.yaml"), request)
    write_report(folder)
    return rc, folder


def compare_variants(stock: Path, tuned: Path) -> tuple[int, Path]:
    """The firmware regression report between the stock and the tuned lwIP builds."""
    from bench.report.compare import compare_runs
    from bench.report.compare_render import headline, write_comparison
    from bench.report.schema import load_results

    comparison = compare_runs(load_results(stock), load_results(tuned), stock, tuned,
                              {"lwip-m3-stock": "lwip-m3-tuned"})
    html_path, _ = write_comparison(comparison, tuned)
    print(f"  {headline(comparison).replace('**', '')}")
    return comparison.exit_code("regression"), html_path


def check_reports(pages: list[Path], out: Path) -> list[str]:
    """Open each page in headless Chromium; what is wrong with them (none: empty)."""
    from bench.report.browser import check_page, find_browser

    browser = find_browser()
    if browser is None:
        return ["no headless browser (scripts/install-deps.sh installs chromium)"]
    problems: list[str] = []
    for page in pages:
        _, wrong = check_page(browser, page, out)
        print(f"  {page}: {'; '.join(wrong) if wrong else 'renders, every local link resolves'}")
        problems += wrong
    return problems


def main() -> int:
    if os.geteuid() != 0:
        print("demo: the emulated lab needs root (CAP_NET_ADMIN); run 'sudo make demo'",
              file=sys.stderr)
        return 2
    try:
        inv = load()
    except InventoryError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return 2
    run_dir = Path("results") / time.strftime("demo-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {"run_dir": str(run_dir), "duts": []}
    failed = False
    print(f"demo: run folder {run_dir}")
    try:
        print("demo: step 1/5 lab up")
        up(inv, say=lambda line: print(f"  {line}"))
        print("demo: step 2/5 1 MB each way with every simulated DUT, pattern verified")
        for dut in inv.duts:
            if not dut.kind.simulated:
                continue
            figures = transfer_both_ways(inv, dut.name, run_dir)
            summary["duts"].append(figures)  # type: ignore[union-attr]
            ok = figures["dut_to_bench_ok"] and figures["bench_to_dut_ok"]
            failed |= not ok
            print(f"  {dut.name}: {figures['stack']} build {figures['build']}: "
                  f"DUT->bench {figures['dut_to_bench_MBps']} MB/s, "
                  f"bench->DUT {figures['bench_to_dut_MBps']} MB/s, "
                  f"{'verified' if ok else 'PATTERN MISMATCH'}")
        print("demo: step 3/5 every suite on the Linux host and the lwIP ci-fast board")
        rc, suites_dir = run_suites(inv, run_dir, "suites", ["linux-host", "lwip-m3"])
        summary["suites"] = {"robot_rc": rc, "run_dir": str(suites_dir)}
        failed |= rc != 0
        print(f"  Robot exit code {rc}; report {suites_dir / REPORT_FILE}")
        print("demo: step 4/5 the stock and the tuned lwIP firmware (120 s TIME_WAIT), "
              "then their comparison")
        with ThreadPoolExecutor(2) as pool:  # two builds, two runs, side by side
            stock = pool.submit(run_suites, inv, run_dir, "stock", ["lwip-m3-stock"])
            tuned = pool.submit(run_suites, inv, run_dir, "tuned", ["lwip-m3-tuned"])
            (stock_rc, stock_dir), (tuned_rc, tuned_dir) = stock.result(), tuned.result()
        failed |= stock_rc != 0 or tuned_rc != 0
        # the comparison's exit code is a finding about the builds, not a demo failure
        compare_rc, compare_html = compare_variants(stock_dir, tuned_dir)
        summary["variants"] = {"stock": str(stock_dir), "tuned": str(tuned_dir),
                               "robot_rc": [stock_rc, tuned_rc],
                               "comparison": str(compare_html), "compare_rc": compare_rc}
        print(f"  Robot exit codes {stock_rc} and {tuned_rc}; stock {stock_dir / REPORT_FILE}, "
              f"tuned {tuned_dir / REPORT_FILE}; comparison {compare_html}")
        print("demo: the reports in headless Chromium")
        pages = [folder / REPORT_FILE for folder in (suites_dir, stock_dir, tuned_dir)]
        problems = check_reports([*pages, compare_html], run_dir / "browser")
        summary["report_problems"] = problems
        failed |= bool(problems)
    except Exception as exc:  # the demo must always tear down and say why it stopped
        failed = True
        print(f"demo: failed: {exc}", file=sys.stderr)
    finally:
        print("demo: step 5/5 lab down")
        down(inv, say=lambda line: print(f"  {line}"))
    (run_dir / "demo-summary.json").write_text(json.dumps(summary, indent=2))
    print(f"demo: {'FAILED' if failed else 'done'}; summary in {run_dir}/demo-summary.json, "
          f"console logs in {run_dir}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
