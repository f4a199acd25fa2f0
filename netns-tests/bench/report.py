#!/usr/bin/env python3
"""The report of netns-tests/bench/run.sh: medians of every measurement, a table with
ratios against wireguard-go and against veth, the issue-6 targets, results.tsv and a
gnuplot chart (throughput.png).

    report.py OUTDIR      (reads OUTDIR/samples.tsv and OUTDIR/meta.txt)
"""
import csv
import os
import statistics
import subprocess
import sys

SETUPS = ["veth", "wireguard-go", "vpnd"]


def metric_label(m):
    if m == "tcp1_mbps":
        return "TCP 1 stream, Mbit/s"
    if m == "tcp4_mbps":
        return "TCP 4 streams, Mbit/s"
    if m.startswith("udp") and m.endswith("_kpps"):
        return "UDP %s B, kpps received" % m[3:-5]
    if m == "rtt_ms":
        return "ping RTT avg, ms"
    if m == "cpu_s_per_gbit":
        return "daemon CPU s per Gbit"
    return m


def metric_order(m):
    order = ["tcp1_mbps", "tcp4_mbps"]
    if m in order:
        return (order.index(m), 0)
    if m.startswith("udp"):
        return (2, -int(m[3:-5]))
    return (3 if m == "rtt_ms" else 4, 0)


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3f" % v if abs(v) < 1 else "%.2f" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py OUTDIR")
    out = sys.argv[1]
    samples = {}  # (setup, metric) -> [values]
    with open(os.path.join(out, "samples.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            samples.setdefault((row["setup"], row["metric"]), []).append(float(row["value"]))
    setups = [s for s in SETUPS if any(k[0] == s for k in samples)]
    metrics = sorted({k[1] for k in samples}, key=metric_order)
    med = {k: statistics.median(v) for k, v in samples.items()}

    def m(setup, metric):
        return med.get((setup, metric))

    with open(os.path.join(out, "results.tsv"), "w") as f:
        f.write("setup\tmetric\tmedian\truns\tmin\tmax\n")
        for s in setups:
            for mt in metrics:
                v = samples.get((s, mt))
                if v:
                    f.write("%s\t%s\t%.6g\t%d\t%.6g\t%.6g\n"
                            % (s, mt, statistics.median(v), len(v), min(v), max(v)))

    # The table: one row per metric, the medians, then the ratios of the tunnels.
    cols = list(setups)
    have_wg, have_veth = "wireguard-go" in setups, "veth" in setups
    rcols = []
    if "vpnd" in setups and have_wg:
        rcols.append(("vpnd/wg-go", "vpnd", "wireguard-go"))
    if "vpnd" in setups and have_veth:
        rcols.append(("vpnd/veth", "vpnd", "veth"))
    if have_wg and have_veth:
        rcols.append(("wg-go/veth", "wireguard-go", "veth"))
    head = ["metric (median of %d)" % max(len(v) for v in samples.values())] + cols + [c[0] for c in rcols]
    rows = []
    for mt in metrics:
        row = [metric_label(mt)] + [fmt(m(s, mt)) for s in cols]
        for _, a, b in rcols:
            r = ratio(m(a, mt), m(b, mt))
            row.append("-" if r is None else "%.2fx" % r)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                       for i, c in enumerate(r)) for r in [head] + rows]
    lines.insert(1, "-" * len(lines[0]))
    table = "\n".join(lines)

    # The targets of issue 6 that this benchmark measures.
    checks = []
    v, w, e = m("vpnd", "tcp1_mbps"), m("wireguard-go", "tcp1_mbps"), m("veth", "rtt_ms")
    if v is not None and w is not None:
        checks.append(("vpnd single-stream TCP >= 4x wireguard-go", v >= 4 * w,
                       "%.2fx (%s vs %s Mbit/s)" % (v / w, fmt(v), fmt(w))))
    if v is not None:
        checks.append(("vpnd single-stream TCP >= 3 Gbit/s", v >= 3000,
                       "%s Mbit/s (%.0f%% of 3,000)" % (fmt(v), 100 * v / 3000)))
    rv = m("vpnd", "rtt_ms")
    if rv is not None and e is not None:
        checks.append(("vpnd ping RTT <= veth + 0.05 ms", rv - e <= 0.05,
                       "+%.3f ms (%.3f vs %.3f ms)" % (rv - e, rv, e)))
    check_lines = ["%-44s %-6s %s" % (what, "MET" if ok else "MISSED", how)
                   for what, ok, how in checks]

    meta = open(os.path.join(out, "meta.txt")).read()
    report = "%s\n\n%s\n\ntargets (issue 6):\n%s\n" % (meta.strip(), table,
                                                      "\n".join(check_lines) or "(none measured)")
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write(report)
    print(report)
    chart(out, setups, metrics, m)


def chart(out, setups, metrics, m):
    """throughput.png: TCP Mbit/s per setup (log scale: veth is 30x the tunnels), and
    the UDP packet rates beside it. A clustered histogram of n columns with gap 1 puts
    column i at x + (i - (n - 1) / 2) / (n + 1): the value labels go there."""
    udp = [mt for mt in metrics if mt.startswith("udp")]
    with open(os.path.join(out, "chart.dat"), "w") as f:
        f.write("setup\ttcp1\ttcp4\t%s\n" % "\t".join(udp))
        for s in setups:
            vals = [m(s, "tcp1_mbps"), m(s, "tcp4_mbps")] + [m(s, u) for u in udp]
            f.write("%s\t%s\n" % (s, "\t".join("NaN" if x is None else "%.6g" % x for x in vals)))
    meta = dict(l.split(": ", 1) for l in open(os.path.join(out, "meta.txt")).read().splitlines()
                if ": " in l)
    # The 1-minute load averages recorded before, during and after the run.
    loads = [float(v.split()[0]) for k, v in meta.items() if k.startswith("load ")]
    load = "%.1f-%.1f" % (min(loads), max(loads)) if loads else "?"
    title = "%s, nproc %s, load average %s" % (meta.get("date", "")[:10], meta.get("nproc", "?"),
                                                load)
    udp_plots = ", ".join(
        "'chart.dat' using %d:xtic(1) title '%s B' , '' using ($0 + %.3f):%d:(sprintf('%%.0f', $%d)) with labels offset 0,0.6 notitle"
        % (4 + i, u[3:-5], (i - (len(udp) - 1) / 2) / (len(udp) + 1), 4 + i, 4 + i)
        for i, u in enumerate(udp))
    gp = """set terminal pngcairo size 1100,480 font 'sans,10'
set output 'throughput.png'
set datafile separator '\\t'
set key autotitle columnhead
set multiplot layout 1,2 title 'vpnd data plane, two namespaces over veth ({title})'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set title 'iperf3 TCP, median throughput'
set ylabel 'Mbit/s (log scale)'
set logscale y
set yrange [10:*]
plot 'chart.dat' using 2:xtic(1) title '1 stream', '' using 3 title '4 streams', \\
     '' using ($0 - 0.167):2:(sprintf('%.0f', $2)) with labels offset 0,0.7 notitle, \\
     '' using ($0 + 0.167):3:(sprintf('%.0f', $3)) with labels offset 0,0.7 notitle
unset logscale y
set yrange [0:*]
set title 'iperf3 UDP, median packets received'
set ylabel 'thousand packets/s'
{udp_plot}
unset multiplot
""".format(title=title, udp_plot=("plot " + udp_plots) if udp else "")
    with open(os.path.join(out, "chart.gp"), "w") as f:
        f.write(gp)
    r = subprocess.run(["gnuplot", "chart.gp"], cwd=out, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("gnuplot failed: %s" % r.stderr.strip())
    print("chart: %s" % os.path.join(out, "throughput.png"))


if __name__ == "__main__":
    main()
