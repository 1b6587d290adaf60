#!/bin/sh
# Fetch Debian's lwIP source package (2.1.3+dfsg1-*) with a PRIVATE apt
# configuration, verify it against the .dsc checksums, extract it, and cache the
# extracted tree so later builds need no network.
#
# The system's apt sources are never changed: the deb-src entry is derived at run
# time from the system's own apt configuration (deb822 *.sources files and the
# one-line sources.list), keeping only entries of the running distribution
# (Suites equal to VERSION_CODENAME or <codename>-<something>).
#
# usage: fetch_lwip.sh <cache-dir>   -> <cache-dir>/lwip-src (extracted tree)
set -eu

CACHE=${1:?usage: fetch_lwip.sh CACHE_DIR}
WANT_UPSTREAM=2.1.3
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
OUT="$CACHE/lwip-src"

if [ -f "$OUT/.hilbench-extracted" ]; then
    echo "lwip: using cached source $OUT ($(cat "$OUT/.hilbench-extracted"))"
    exit 0
fi

APT="$CACHE/apt"
rm -rf "$APT"
mkdir -p "$APT/etc/preferences.d" "$APT/state/lists/partial" "$APT/cache/archives/partial" "$APT/dl"

CODENAME=$( . /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
if [ -z "$CODENAME" ]; then
    echo "lwip: cannot tell the distribution codename from /etc/os-release" >&2
    exit 1
fi

# --- derive deb-src entries from the system configuration --------------------
SRCLIST="$APT/etc/sources.list"
: > "$SRCLIST"
python3 - "$CODENAME" "$SRCLIST" <<'EOF'
import glob, os, re, sys
codename, out = sys.argv[1], sys.argv[2]
entries = []  # (uri, suite, components, signed_by)

def suite_ok(s):
    return s == codename or s.startswith(codename + "-")

for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    text = open(path).read()
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, val = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = val.strip()
        if not fields or fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                if suite_ok(suite):
                    entries.append((uri, suite, fields.get("components", "main"),
                                    fields.get("signed-by", "")))

lists = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for path in lists:
    if not os.path.exists(path):
        continue
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        parts = line.split()[1:]
        opts = {}
        if parts and parts[0].startswith("["):
            opt = []
            while parts:
                p = parts.pop(0)
                opt.append(p)
                if p.endswith("]"):
                    break
            for o in " ".join(opt).strip("[]").split():
                if "=" in o:
                    k, v = o.split("=", 1)
                    opts[k] = v
        if len(parts) < 2:
            continue
        uri, suite, comps = parts[0], parts[1], " ".join(parts[2:]) or "main"
        if suite_ok(suite):
            entries.append((uri, suite, comps, opts.get("signed-by", "")))

if not entries:
    sys.exit("lwip: no apt source of distribution %r found in /etc/apt" % codename)
with open(out, "w") as f:
    for uri, suite, comps, signed in entries:
        f.write("deb-src [%s] %s %s %s\n" % (
            ("signed-by=%s" % signed) if signed else "", uri, suite, comps))
EOF
echo "lwip: private apt sources derived from the system configuration:"
sed 's/^/  /' "$SRCLIST" | sed 's#//[^/ ]*#//<host>#'

APTOPTS="-o Dir::Etc::sourcelist=$SRCLIST -o Dir::Etc::sourceparts=- \
 -o Dir::Etc::preferencesparts=$APT/etc/preferences.d \
 -o Dir::State=$APT/state -o Dir::State::status=/var/lib/dpkg/status \
 -o Dir::Cache=$APT/cache -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
 -o APT::Sandbox::User=root -o Acquire::Languages=none -o APT::Get::List-Cleanup=0"

# shellcheck disable=SC2086
apt-get $APTOPTS -qq update
# shellcheck disable=SC2086
(cd "$APT/dl" && apt-get $APTOPTS -qq --download-only source lwip)

DSC=$(ls "$APT/dl"/lwip_*.dsc | head -n1)
VER=$(sed -n 's/^Version: //p' "$DSC")
case "$VER" in
    "$WANT_UPSTREAM"*) ;;
    *) echo "lwip: source version $VER is not $WANT_UPSTREAM" >&2; exit 1 ;;
esac

# --- explicit verification against Checksums-Sha256 of the .dsc --------------
echo "lwip: verifying $(basename "$DSC") ($VER)"
awk '/^Checksums-Sha256:/{f=1;next} /^[^ ]/{f=0} f&&NF==3{print $1"  "$3}' "$DSC" > "$APT/dl/SHA256SUMS"
if [ ! -s "$APT/dl/SHA256SUMS" ]; then
    echo "lwip: no Checksums-Sha256 in $DSC" >&2
    exit 1
fi
(cd "$APT/dl" && sha256sum -c SHA256SUMS)

# dpkg-source verifies sizes and checksums once more while extracting
rm -rf "$OUT" "$OUT.tmp"
(cd "$APT/dl" && dpkg-source --no-copy -x "$(basename "$DSC")" "$OUT.tmp" >/dev/null)
mv "$OUT.tmp" "$OUT"
echo "$VER" > "$OUT/.hilbench-extracted"
rm -rf "$APT/state" "$APT/cache"
echo "lwip: extracted $VER into $OUT"
