#!/usr/bin/env bash
# Prove that edgeptm-runtime runs a bundle on aarch64 Linux, emulated with qemu user mode, and
# gives the same labels as the host.
#
#   scripts/test-arm64.sh [options] BUNDLE        # a bundle folder or .tar.gz
#   scripts/test-arm64.sh --clean                 # remove the cache (the work folder) and stop
#
# What it does (each phase timed; everything downloaded is cached in the work folder):
#   1. qemu      finds qemu-aarch64-static / qemu-aarch64 (or $QEMU); as root, apt-get installs
#                qemu-user-static when it is missing.
#   2. sysroot   an arm64 Debian CPython: the .debs of `python3` and its dependencies for arm64,
#                fetched with apt-get under a private apt configuration kept in the work folder (the
#                host's dpkg architectures and apt lists are not touched; nothing is installed on the
#                host) and unpacked with dpkg -x. A fake aarch64 /proc/cpuinfo goes in the sysroot:
#                qemu < 8 shows the guest the host's x86 one, on which onnxruntime's cpuinfo crashes.
#   3. wheels    aarch64 wheels of numpy, tokenizers, onnxruntime (pinned to the host's versions)
#                and their dependencies from PyPI, installed with pip --target into a site folder.
#   4. host      the host's Python runs scripts/arm64_predict.py on the texts.
#   5. aarch64   the emulated CPython runs the same script, runtime/ on its PYTHONPATH.
#   6. compare   scripts/arm64/compare.py: labels must match (near-ties listed apart), max |dlogit|.
#
# Options:
#   --texts FILE      JSONL with a "text" field per line (default: edgeptm/data/sample/test.jsonl)
#   --cpu LIST        qemu CPU model(s), comma-separated, one emulated run each (default $ARM64_CPU,
#                     else cortex-a72). qemu 7.2 + "max" (SME) gives wrong int8 results: use max,sme=off
#   --threads N       engine threads on both sides (default: the engine's own)
#   --max-near-ties X near-ties tolerated, a count or a fraction of the texts (default 0.05)
#   --max-delta X     also fail when max |dlogit| exceeds X (default: no limit)
#   --clean           remove the work folder first (alone: remove it and exit)
#   -h, --help
# Environment:
#   ARM64_WORK        work folder, the cache (default: .arm64 in the repository root)
#   ARM64_CPU         default for --cpu
#   HOST_PYTHON       the host's Python with edgeptm_runtime (default: .venv/bin/python)
#   QEMU              the qemu-aarch64 binary to use
#   ARM64_DEBIAN_MIRROR, ARM64_DEBIAN_SECURITY_MIRROR, ARM64_DEBIAN_SUITE
#                     where the arm64 .debs come from (default deb.debian.org, bookworm)
#   ARM64_PACKAGES    the pip requirements for the emulated side (default: numpy, tokenizers and
#                     onnxruntime pinned to the host's installed versions)
#   ARM64_TIMEOUT     seconds allowed to one emulated run (default 3600)
# Exit status: 0 all labels match; 1 a label differs or a step failed; 2 bad usage.
set -euo pipefail
export LC_ALL=C # one decimal point for $EPOCHREALTIME and awk

PROG=test-arm64
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "$PROG: error: $*" >&2; PHASE=; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "usage: scripts/test-arm64.sh [--texts FILE] [--cpu LIST] [--threads N] [--clean] BUNDLE" >&2; exit 2; }
say() { echo "[$PROG] $*"; }

# ---------------------------------------------------------------- arguments
TEXTS=$REPO/edgeptm/data/sample/test.jsonl
CPUS=${ARM64_CPU:-cortex-a72}
THREADS=
CLEAN=0
MAX_NEAR_TIES=0.05
MAX_DELTA=
BUNDLE=
while (($#)); do
    case $1 in
        --texts) (($# >= 2)) || usage_error "--texts needs a file"; TEXTS=$2; shift 2 ;;
        --cpu) (($# >= 2)) || usage_error "--cpu needs a CPU model"; CPUS=$2; shift 2 ;;
        --threads) (($# >= 2)) || usage_error "--threads needs a number"; THREADS=$2; shift 2 ;;
        --max-near-ties) (($# >= 2)) || usage_error "--max-near-ties needs a number"; MAX_NEAR_TIES=$2; shift 2 ;;
        --max-delta) (($# >= 2)) || usage_error "--max-delta needs a number"; MAX_DELTA=$2; shift 2 ;;
        --clean) CLEAN=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        --) shift; (($# == 1)) || usage_error "expected one BUNDLE"; BUNDLE=$1; shift ;;
        -*) usage_error "unknown option $1" ;;
        *) [[ -z $BUNDLE ]] || usage_error "expected one BUNDLE, got '$BUNDLE' and '$1'"; BUNDLE=$1; shift ;;
    esac
done
[[ -z $THREADS || $THREADS =~ ^[1-9][0-9]*$ ]] || usage_error "--threads must be a positive integer, not '$THREADS'"

WORK=${ARM64_WORK:-$REPO/.arm64}
[[ $WORK == /* ]] || WORK=$PWD/$WORK
case $WORK in / | "$REPO" | "$REPO/" | "$HOME" | "$HOME/") die "refusing to use $WORK as the work folder (ARM64_WORK)" ;; esac

if ((CLEAN)); then
    if [[ -e $WORK ]]; then
        say "clean: removing $WORK ($(du -sh "$WORK" 2>/dev/null | cut -f1))"
        rm -rf -- "$WORK"
    else
        say "clean: $WORK does not exist"
    fi
    [[ -n $BUNDLE ]] || exit 0
fi
[[ -n $BUNDLE ]] || usage_error "missing BUNDLE (a bundle folder or .tar.gz)"
[[ -e $BUNDLE ]] || die "bundle $BUNDLE does not exist"
BUNDLE=$(realpath -- "$BUNDLE")
[[ -f $TEXTS ]] || die "texts file $TEXTS does not exist"
TEXTS=$(realpath -- "$TEXTS")
HOST_PYTHON=${HOST_PYTHON:-$REPO/.venv/bin/python}
[[ -x $HOST_PYTHON ]] || die "host Python $HOST_PYTHON not found: make the venv (make install) or set HOST_PYTHON"
"$HOST_PYTHON" -c 'import edgeptm_runtime' 2>/dev/null ||
    die "$HOST_PYTHON cannot import edgeptm_runtime: pip install -e runtime (or set HOST_PYTHON)"

mkdir -p "$WORK/logs"
printf '*\n' >"$WORK/.gitignore" # the whole cache stays out of git
if command -v flock >/dev/null; then
    exec 9>"$WORK/.lock"
    flock -n 9 || die "another test-arm64.sh is using $WORK; wait for it or set ARM64_WORK"
fi

# ---------------------------------------------------------------- phase timing and logs
PHASES=()
PHASE=
PHASE_T0=
LOG=
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# begin NAME MESSAGE [LOGNAME]
begin() { PHASE=$1; PHASE_T0=$(now); LOG=$WORK/logs/${3:-$1}.log; : >"$LOG"; say "$1: $2"; }
end() {
    local took
    took=$(since "$PHASE_T0")
    PHASES+=("$(printf '%-8s %7s s  %s' "$PHASE" "$took" "$1")")
    say "$PHASE: done in $took s${1:+ ($1)}"
    PHASE=
}
# run_logged MESSAGE CMD...: run CMD with its output in the phase log; on failure show the log's
# tail and stop with a one-line error.
run_logged() {
    local message=$1
    shift
    local rc=0
    "$@" >>"$LOG" 2>&1 || rc=$?
    if ((rc != 0)); then
        echo "---- last lines of $LOG:" >&2
        tail -n 15 "$LOG" | sed 's/^/    /' >&2
        case $rc in
            124) message+=", timed out" ;;
            132) message+=", illegal instruction (SIGILL): try another --cpu" ;;
            139) message+=", segmentation fault" ;;
        esac
        die "$PHASE: $message (exit $rc; full log: $LOG)"
    fi
}
trap 'rc=$?; if ((rc != 0)) && [[ -n $PHASE ]]; then echo "$PROG: failed in phase $PHASE (exit $rc; log: $LOG)" >&2; fi' EXIT
TOTAL_T0=$(now)

# ---------------------------------------------------------------- 1. qemu
begin qemu "looking for qemu user mode"
if [[ -n ${QEMU:-} ]]; then
    command -v "$QEMU" >/dev/null || die "QEMU=$QEMU is not an executable"
else
    QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
    if [[ -z $QEMU ]]; then
        if ((EUID == 0)) && command -v apt-get >/dev/null; then
            say "qemu: qemu-aarch64 is missing; running: apt-get install -y --no-install-recommends qemu-user-static"
            if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static >>"$LOG" 2>&1; then
                say "qemu: install failed; running: apt-get update, then the install again"
                run_logged "apt-get update failed" apt-get update
                run_logged "apt-get install qemu-user-static failed" \
                    env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static
            fi
            QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
            [[ -n $QEMU ]] || die "qemu-user-static installed but no qemu-aarch64-static on PATH"
        else
            die "qemu user mode not found: install it as root with 'apt-get install qemu-user-static' (Debian/Ubuntu) or set QEMU=/path/to/qemu-aarch64"
        fi
    fi
fi
QEMU_VERSION=$("$QEMU" --version | head -n 1 | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p')
[[ -n $QEMU_VERSION ]] || die "$QEMU --version does not look like qemu"
QEMU_MAJOR=${QEMU_VERSION%%.*}
IFS=, read -r -a CPU_LIST <<<"$CPUS"
# "a,b" may also be one model with properties ("max,sme=off"): join a part with "=" to the one before.
CPU_MODELS=()
for part in "${CPU_LIST[@]}"; do
    if [[ $part == *=* && ${#CPU_MODELS[@]} -gt 0 ]]; then
        CPU_MODELS[-1]+=",$part"
    elif [[ -n $part ]]; then
        CPU_MODELS+=("$part")
    fi
done
((${#CPU_MODELS[@]})) || usage_error "--cpu is empty"
KNOWN_CPUS=$({ "$QEMU" -cpu help || true; } | tail -n +2 | xargs) # qemu exits 1 after help
for cpu in "${CPU_MODELS[@]}"; do
    [[ " $KNOWN_CPUS " == *" ${cpu%%,*} "* ]] || die "qemu $QEMU_VERSION has no CPU model '${cpu%%,*}'; it knows: $KNOWN_CPUS"
    if [[ ${cpu%%,*} == max && $cpu != *sme=off* ]] && ((QEMU_MAJOR < 8)); then
        say "qemu: warning: qemu $QEMU_VERSION emulates SME wrongly for onnxruntime's int8 kernels with -cpu max; use max,sme=off"
    fi
done
end "$QEMU, qemu $QEMU_VERSION, -cpu ${CPU_MODELS[*]}"

# ---------------------------------------------------------------- 2. sysroot
MIRROR=${ARM64_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${ARM64_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=${ARM64_DEBIAN_SUITE:-bookworm}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
DEBS="python3 libstdc++6"
SYSROOT=$WORK/sysroot
SYSROOT_KEY="$MIRROR $SECURITY_MIRROR $SUITE $DEBS"
APTDIR=$WORK/apt
APT_OPTS=(
    -o APT::Architecture=arm64 -o APT::Architectures=arm64
    -o Dir::State="$APTDIR" -o Dir::State::lists="$APTDIR/lists" -o Dir::State::status="$APTDIR/status"
    -o Dir::Cache="$APTDIR" -o Dir::Cache::archives="$APTDIR/archives"
    -o Dir::Etc::sourcelist="$APTDIR/sources.list" -o Dir::Etc::sourceparts="$APTDIR/sources.list.d"
    -o Dir::Etc::preferencesparts="$APTDIR/preferences.d"
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)

# A fake aarch64 /proc/cpuinfo for the CPU model, one entry per host CPU. qemu -L serves the guest
# files from the sysroot first; qemu >= 8 answers /proc/cpuinfo itself and ignores this one.
write_cpuinfo() {
    local model=${1%%,*} part=0xd08 features="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid" n i
    local dotprod="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs"
    case $model in
        cortex-a35) part=0xd04 ;; cortex-a53) part=0xd03 ;; cortex-a57) part=0xd07 ;; cortex-a72) part=0xd08 ;;
        cortex-a76) part=0xd0b; features=$dotprod ;; neoverse-n1) part=0xd0c; features=$dotprod ;;
        *) part=0xd0c; features=$dotprod ;;
    esac
    n=$(($(sed 's/.*[-,]//' /sys/devices/system/cpu/possible 2>/dev/null || echo $(($(nproc --all) - 1))) + 1))
    mkdir -p "$SYSROOT/proc"
    for ((i = 0; i < n; i++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 100.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 0\n\n' \
            "$i" "$features" "$part"
    done >"$SYSROOT/proc/cpuinfo"
}

# guest_python CPU: sets GUEST to the command line of the emulated CPython, in a clean environment.
guest_python() {
    GUEST=(env -i PATH=/usr/bin:/bin HOME="$WORK" LANG=C.UTF-8 PYTHONUTF8=1 PYTHONNOUSERSITE=1
        PYTHONPATH="$REPO/runtime:$SITE" "$QEMU" -cpu "$1" -L "$SYSROOT" "$SYSROOT/usr/bin/python3")
}

begin sysroot "arm64 Debian $SUITE CPython in $SYSROOT"
if [[ -f $SYSROOT/.done && $(cat "$SYSROOT/.done") == "$SYSROOT_KEY" ]]; then
    end "cached"
else
    command -v apt-get >/dev/null || die "apt-get not found: this step needs a Debian or Ubuntu host"
    command -v dpkg >/dev/null || die "dpkg not found: this step needs a Debian or Ubuntu host"
    [[ -r $KEYRING ]] || die "$KEYRING not found: apt-get install debian-archive-keyring"
    rm -rf "$SYSROOT" "$SYSROOT.tmp"
    mkdir -p "$APTDIR"/{lists/partial,archives/partial,sources.list.d,preferences.d}
    : >"$APTDIR/status"
    {
        echo "deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE main"
        echo "deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE-updates main"
        echo "deb [arch=arm64 signed-by=$KEYRING] $SECURITY_MIRROR $SUITE-security main"
    } >"$APTDIR/sources.list"
    say "sysroot: apt-get update (arm64 package lists, private to $APTDIR)"
    run_logged "apt-get update of the arm64 lists failed (mirror $MIRROR reachable?)" apt-get "${APT_OPTS[@]}" update
    rm -f "$APTDIR"/archives/*.deb
    say "sysroot: apt-get install --download-only $DEBS (and dependencies, arm64)"
    # shellcheck disable=SC2086
    run_logged "downloading the arm64 .debs failed" \
        apt-get "${APT_OPTS[@]}" install -y --download-only --no-install-recommends $DEBS
    DEB_COUNT=$(find "$APTDIR/archives" -maxdepth 1 -name '*.deb' | wc -l)
    ((DEB_COUNT > 0)) || die "sysroot: apt-get downloaded no .debs (log: $LOG)"
    say "sysroot: dpkg -x $DEB_COUNT .debs ($(du -sh "$APTDIR/archives" | cut -f1))"
    mkdir -p "$SYSROOT.tmp"
    for deb in "$APTDIR"/archives/*.deb; do
        run_logged "dpkg -x $(basename "$deb") failed" dpkg -x "$deb" "$SYSROOT.tmp"
    done
    [[ -x $SYSROOT.tmp/usr/bin/python3 ]] || die "sysroot: no usr/bin/python3 in the unpacked .debs"
    LIBC6_DEB=$(find "$APTDIR/archives" -maxdepth 1 -name 'libc6_*.deb' | head -n 1)
    [[ -n $LIBC6_DEB ]] || die "sysroot: no libc6 .deb among the downloads (log: $LOG)"
    dpkg-deb -f "$LIBC6_DEB" Version | sed 's/^\([0-9]*\.[0-9]*\).*/\1/' >"$SYSROOT.tmp/.glibc"
    # The emulated interpreter does not write the stdlib's bytecode, so it would compile every module
    # it imports on every run: precompile once with the host's Python when it is the same 3.X.
    GUEST_PY=$(basename "$(readlink -f "$SYSROOT.tmp/usr/bin/python3")")
    if [[ $("$HOST_PYTHON" -c 'import sys; print("python%d.%d" % sys.version_info[:2])') == "$GUEST_PY" ]]; then
        say "sysroot: precompiling the $GUEST_PY stdlib with the host's $GUEST_PY"
        "$HOST_PYTHON" -m compileall -q -j 0 -x '/(lib2to3|test|idlelib|tkinter|turtledemo)/' \
            "$SYSROOT.tmp/usr/lib/$GUEST_PY" >>"$LOG" 2>&1 || true
    fi
    mv "$SYSROOT.tmp" "$SYSROOT"
    echo "$SYSROOT_KEY" >"$SYSROOT/.done"
    end "$DEB_COUNT .debs, $(du -sh "$SYSROOT" | cut -f1)"
fi
GUEST_PY=$(basename "$(readlink -f "$SYSROOT/usr/bin/python3")") # python3.11
GUEST_PYVER=${GUEST_PY#python}
[[ $GUEST_PYVER =~ ^3\.[0-9]+$ ]] || die "cannot tell the Python version of $SYSROOT/usr/bin/python3 ($GUEST_PY)"
GLIBC=$(cat "$SYSROOT/.glibc")
[[ $GLIBC =~ ^2\.[0-9]+$ ]] || die "cannot tell the glibc version of the sysroot ($GLIBC); run with --clean"
write_cpuinfo "${CPU_MODELS[0]}"

# ---------------------------------------------------------------- 3. wheels
begin wheels "aarch64 wheels for CPython $GUEST_PYVER (glibc $GLIBC)"
if [[ -n ${ARM64_PACKAGES:-} ]]; then
    read -r -a REQS <<<"$ARM64_PACKAGES"
else
    mapfile -t REQS < <("$HOST_PYTHON" - <<'EOF'
from importlib import metadata
for name in ("numpy", "tokenizers", "onnxruntime"):
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(name)
EOF
)
fi
PYTAG=${GUEST_PYVER/./}
PLATFORMS=(--platform manylinux2014_aarch64)
for ((minor = 17; minor <= ${GLIBC#*.}; minor++)); do PLATFORMS+=(--platform "manylinux_2_${minor}_aarch64"); done
PIP_TARGET_OPTS=(--only-binary=:all: "${PLATFORMS[@]}" --python-version "$GUEST_PYVER" --implementation cp
    --abi "cp$PYTAG" --abi abi3 --abi none)
SITE_KEY=$(printf '%s\n' "$GUEST_PYVER" "$GLIBC" "${REQS[@]}" | sha256sum | cut -c1-12)
SITE=$WORK/site-$SITE_KEY
WHEELS=$WORK/wheels
if [[ -f $SITE/.done ]]; then
    end "cached: ${REQS[*]}"
else
    mkdir -p "$WHEELS"
    say "wheels: pip download ${REQS[*]} (and dependencies) for manylinux aarch64 cp$PYTAG"
    run_logged "pip download of the aarch64 wheels failed (PyPI reachable? a version without an aarch64 cp$PYTAG wheel?)" \
        "$HOST_PYTHON" -m pip download --disable-pip-version-check --dest "$WHEELS" "${PIP_TARGET_OPTS[@]}" "${REQS[@]}"
    rm -rf "$SITE" "$SITE.tmp"
    say "wheels: pip install --target $SITE (from the downloaded wheels only)"
    run_logged "pip install --target of the aarch64 wheels failed" \
        "$HOST_PYTHON" -m pip install --disable-pip-version-check --no-index --find-links "$WHEELS" --no-warn-conflicts \
        --no-warn-script-location --target "$SITE.tmp" "${PIP_TARGET_OPTS[@]}" "${REQS[@]}"
    mv "$SITE.tmp" "$SITE"
    printf '%s\n' "${REQS[@]}" >"$SITE/.done"
    end "$(du -sh "$WHEELS" | cut -f1) of wheels, site $(du -sh "$SITE" | cut -f1): ${REQS[*]}"
fi
# Other caches of site folders (older pins) are left for --clean.

# ---------------------------------------------------------------- 4. host run
RUN=$WORK/last-run
rm -rf "$RUN"
mkdir -p "$RUN"
PREDICT=("$REPO/scripts/arm64_predict.py" "$BUNDLE" "$TEXTS")
EXTRA=()
[[ -z $THREADS ]] || EXTRA+=(--threads "$THREADS")
begin host "$(basename "$HOST_PYTHON") $(uname -m): arm64_predict.py on $(wc -l <"$TEXTS") lines of $(basename "$TEXTS")"
T0=$(now)
run_logged "the host run of arm64_predict.py failed" "$HOST_PYTHON" "${PREDICT[@]}" "$RUN/host.json" "${EXTRA[@]}"
HOST_WALL=$(since "$T0")
tail -n 1 "$LOG" | sed "s/^/[$PROG]   /"
end "$(uname -m)"

# ---------------------------------------------------------------- 5./6. emulated runs and comparison
STATUS=0
SUMMARY=()
for cpu in "${CPU_MODELS[@]}"; do
    tag=${cpu//[^A-Za-z0-9._-]/_}
    write_cpuinfo "$cpu"
    guest_python "$cpu"
    begin aarch64 "qemu-aarch64 -cpu $cpu: CPython $GUEST_PYVER imports numpy, tokenizers, onnxruntime" "aarch64-$tag"
    T0=$(now)
    run_logged "the emulated CPython cannot import numpy, tokenizers and onnxruntime under -cpu $cpu" \
        "${GUEST[@]}" -c 'import platform, numpy, tokenizers, onnxruntime; print(platform.machine(), numpy.__version__, tokenizers.__version__, onnxruntime.__version__)'
    say "aarch64: imports ok in $(since "$T0") s: $(tail -n 1 "$LOG")"
    say "aarch64: running arm64_predict.py (timeout ${ARM64_TIMEOUT:-3600} s)"
    T0=$(now)
    run_logged "the emulated run of arm64_predict.py failed under -cpu $cpu" \
        timeout "${ARM64_TIMEOUT:-3600}" "${GUEST[@]}" "${PREDICT[@]}" "$RUN/aarch64-$tag.json" "${EXTRA[@]}"
    ARM_WALL=$(since "$T0")
    tail -n 1 "$LOG" | sed "s/^/[$PROG]   /"
    end "-cpu $cpu, emulated wall $ARM_WALL s"

    begin compare "labels and logits, host vs aarch64 (-cpu $cpu)"
    COMPARE=("$HOST_PYTHON" "$REPO/scripts/arm64/compare.py" "$RUN/host.json" "$RUN/aarch64-$tag.json"
        --host-wall "$HOST_WALL" --arm-wall "$ARM_WALL" --emulator "qemu $QEMU_VERSION -cpu $cpu"
        --texts-name "${TEXTS#"$REPO"/}" --max-near-ties "$MAX_NEAR_TIES")
    [[ -z $MAX_DELTA ]] || COMPARE+=(--max-delta "$MAX_DELTA")
    echo
    if "${COMPARE[@]}"; then
        SUMMARY+=("-cpu $cpu: OK")
        end "OK"
    else
        STATUS=1
        SUMMARY+=("-cpu $cpu: FAILED")
        end "FAILED"
    fi
    echo
done

# ---------------------------------------------------------------- summary
say "phases:"
printf '    %s\n' "${PHASES[@]}"
say "total $(since "$TOTAL_T0") s; cache $WORK ($(du -sh "$WORK" | cut -f1)); results in $RUN"
for line in "${SUMMARY[@]}"; do say "$line"; done
if ((STATUS)); then
    echo "$PROG: error: labels differ between the host and emulated aarch64 (see above)" >&2
fi
exit "$STATUS"
