# shellcheck shell=bash
# Shared functions of the VM test tier: fetch a Debian kernel, build a base
# initramfs for it, pack a payload, boot it under qemu and read the results.
# Sourced by vm/run, vm/run-tests and vm/ci; see docs/vm.md for the why.

set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${FLOWTRACE_VM_CACHE:-/var/cache/flowtrace-vm}

# Modules the guest loads at boot: clsact (sch_ingress), cls_bpf/act_bpf for
# tc BPF programs, sch_netem for packet loss, veth for namespace pairs. They
# are modules (not built in) in both Debian cloud kernels.
VM_MODULES=(sch_ingress cls_bpf act_bpf sch_netem veth)

# Seconds allowed for boot + module loading + power-off, on top of the sum of
# the per-test timeouts (TCG boots in ~3 s; this is slack for a loaded CI box).
VM_BOOT_SLACK=60
VM_DEFAULT_TEST_TIMEOUT=60

vm_log() { printf '%s\n' "$*" >&2; }
vm_die() { printf 'vm: error: %s\n' "$*" >&2; exit 2; }

# Monotonic-enough wall clock in milliseconds, for the timing lines.
vm_now_ms() { date +%s%3N; }
vm_secs_since() { # START_MS -> "1.234"
    local d=$(( $(vm_now_ms) - $1 ))
    printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# ---------------------------------------------------------------- host tools

# Install what the harness needs on the host, only when something is missing,
# so a warm CI machine never touches apt.
vm_ensure_host_tools() {
    local -A need=(
        [qemu-system-x86_64]=qemu-system-x86 [cpio]=cpio [xz]=xz-utils
        [modinfo]=kmod [flock]=util-linux
    )
    local missing=() cmd
    for cmd in "${!need[@]}"; do
        command -v "$cmd" >/dev/null || missing+=("${need[$cmd]}")
    done
    # The guest's /init needs the *static* busybox: the initramfs has no libc.
    [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1 \
        || missing+=(busybox-static)
    ((${#missing[@]} == 0)) && return 0
    vm_log "vm: installing host packages: ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2
}

# Serialise cache writers (two CI jobs on one machine must not unpack the same
# kernel into the same directory at once).
vm_lock_cache() {
    mkdir -p "$VM_CACHE"
    exec {VM_LOCK_FD}>"$VM_CACHE/.lock"
    flock "$VM_LOCK_FD"
}
vm_unlock_cache() { flock -u "$VM_LOCK_FD"; }

# ------------------------------------------------------------------- kernels

# The Debian metapackage that tracks each kernel series we test on.
vm_kernel_meta() {
    case $1 in
        6.12) echo linux-image-6.12-cloud-amd64 ;;
        6.1)  echo linux-image-cloud-amd64 ;;
        *) vm_die "unknown kernel '$1' (expected 6.12 or 6.1)" ;;
    esac
}

# Glob matching the concrete .deb of a series in the cache, e.g.
# linux-image-6.12.117+deb12-cloud-amd64_6.12.117-1~deb12u1_amd64.deb.
vm_kernel_deb_glob() {
    case $1 in
        6.12) echo 'linux-image-6.12.*-cloud-amd64_*_amd64.deb' ;;
        6.1)  echo 'linux-image-6.1.0-*-cloud-amd64_*_amd64.deb' ;;
    esac
}

# Resolve the metapackage to the concrete image package apt would install now.
vm_kernel_resolve() {
    local meta=$1 dep
    dep=$(apt-cache depends "$meta" 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
    if [[ -z $dep ]]; then
        apt-get update -qq >&2
        dep=$(apt-cache depends "$meta" 2>/dev/null \
            | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
    fi
    [[ -n $dep ]] || vm_die "apt cannot resolve $meta (is bookworm-security in sources?)"
    echo "$dep"
}

# Make sure a .deb for the series is cached; print its path. A cached .deb is
# reused without asking apt: bookworm-security drops superseded 6.12 builds,
# so "resolve again" could mean "download again" on every CI run.
# FLOWTRACE_VM_REFRESH=1 asks apt for the newest build anyway.
vm_kernel_deb() {
    local series=$1 debdir="$VM_CACHE/debs" deb pkg
    mkdir -p "$debdir"
    if [[ ${FLOWTRACE_VM_REFRESH:-0} != 1 ]]; then
        # shellcheck disable=SC2046
        deb=$(cd "$debdir" && ls -1 $(vm_kernel_deb_glob "$series") 2>/dev/null \
            | sort -V | tail -n 1 || true)
        [[ -n $deb ]] && { echo "$debdir/$deb"; return; }
    fi
    pkg=$(vm_kernel_resolve "$(vm_kernel_meta "$series")")
    vm_log "vm: downloading $pkg"
    # apt drops privileges to _apt for downloads; a root-only cache directory
    # would make it warn, so download into a scratch dir it can write.
    local tmp; tmp=$(mktemp -d)
    chown _apt "$tmp" 2>/dev/null || chmod 777 "$tmp"
    (cd "$tmp" && apt-get download -q "$pkg" >&2) || { rm -rf "$tmp"; vm_die "apt-get download $pkg failed"; }
    mv "$tmp"/*.deb "$debdir"/
    rm -rf "$tmp"
    deb=$(cd "$debdir" && ls -1 "${pkg}"_*_amd64.deb | sort -V | tail -n 1)
    echo "$debdir/$deb"
}

# Fetch and unpack a kernel series. Sets VM_KVER (uname -r of the guest),
# VM_KROOT (the unpacked package) and VM_VMLINUZ.
vm_kernel_prepare() {
    local series=$1 deb name
    deb=$(vm_kernel_deb "$series")
    name=$(basename "$deb" .deb)
    VM_KROOT="$VM_CACHE/kernels/$name"
    if [[ ! -f $VM_KROOT/.unpacked ]]; then
        rm -rf "$VM_KROOT"; mkdir -p "$VM_KROOT"
        dpkg-deb -x "$deb" "$VM_KROOT"
        touch "$VM_KROOT/.unpacked"
    fi
    VM_VMLINUZ=$(ls -1 "$VM_KROOT"/boot/vmlinuz-* | head -n 1)
    VM_KVER=${VM_VMLINUZ##*/vmlinuz-}
    [[ -d $VM_KROOT/lib/modules/$VM_KVER ]] || vm_die "no modules for $VM_KVER in $deb"
}

# --------------------------------------------------------- base initramfs

# Find a module file by name under the unpacked kernel; names may use - or _.
vm_module_file() { # KMODDIR NAME
    local alt=${2//_/-}
    find "$1/kernel" \( -name "$2.ko" -o -name "$2.ko.*" -o -name "$alt.ko" -o -name "$alt.ko.*" \) \
        -print -quit
}

# Copy NAME and everything it depends on (modinfo depends=) into the staging
# tree, decompressed: busybox modprobe/insmod cannot read .ko.xz.
vm_stage_module() { # KMODDIR STAGE_MODDIR NAME
    local src dst dep deps rel
    src=$(vm_module_file "$1" "$3")
    if [[ -z $src ]]; then
        # Built into this kernel: nothing to load.
        grep -q "/$3.ko\$" "$1/modules.builtin" 2>/dev/null && return 0
        vm_die "module $3 not found in $1"
    fi
    rel=${src#"$1"/}
    rel=${rel%.xz}; rel=${rel%.zst}; rel=${rel%.gz}
    dst=$2/$rel
    [[ -f $dst ]] && return 0
    mkdir -p "${dst%/*}"
    case $src in
        *.xz)  xz -dc "$src" >"$dst" ;;
        *.zst) zstd -qdc "$src" >"$dst" ;;
        *.gz)  gzip -dc "$src" >"$dst" ;;
        *)     cp "$src" "$dst" ;;
    esac
    deps=$(modinfo -F depends "$src")
    for dep in ${deps//,/ }; do
        vm_stage_module "$1" "$2" "$dep"
    done
}

# The guest's userland: static busybox, /init, a minimal /etc.
vm_stage_userland() { # STAGE
    local stage=$1 applet
    # The Debian 12 host is merged-/usr; the guest mirrors that, so payload
    # paths like /lib/x86_64-linux-gnu/libc.so.6 resolve the same way.
    mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,run,tmp,root,etc/vm,vm,mnt}
    ln -s usr/bin "$stage/bin"; ln -s usr/sbin "$stage/sbin"
    ln -s usr/lib "$stage/lib"; ln -s usr/lib64 "$stage/lib64"
    chmod 1777 "$stage/tmp"
    # busybox sh runs its applets by name without any links.
    cp /bin/busybox "$stage/usr/bin/busybox"
    ln -s busybox "$stage/usr/bin/sh"
    ln -s busybox "$stage/usr/bin/env"   # for `#!/usr/bin/env X` tests
    # Programs that exec by name (ip netns exec ping, bpftrace -c) need the
    # applets as files; they live in their own directory, last in PATH, so an
    # added host binary of the same name wins.
    mkdir -p "$stage/usr/local/busybox"
    for applet in $(busybox --list); do
        ln -s /usr/bin/busybox "$stage/usr/local/busybox/$applet"
    done
    install -m 755 "$VM_DIR/guest/init" "$stage/init"
    mknod -m 600 "$stage/dev/console" c 5 1
    echo 'root:x:0:0:root:/root:/bin/sh' >"$stage/etc/passwd"
    echo 'root:x:0:' >"$stage/etc/group"
}

# The test modules of the prepared kernel and the index busybox modprobe reads.
vm_stage_modules() { # STAGE
    local kmod="$VM_KROOT/lib/modules/$VM_KVER" smod="$1/usr/lib/modules/$VM_KVER" m
    mkdir -p "$smod"
    cp "$kmod"/modules.builtin* "$smod"/ 2>/dev/null || true
    for m in "${VM_MODULES[@]}"; do vm_stage_module "$kmod" "$smod" "$m"; done
    printf '%s\n' "${VM_MODULES[@]}" >"$1/etc/vm/modules"
    busybox depmod -b "$1" "$VM_KVER"
}

# Build (or reuse) the base initramfs of the prepared kernel. Sets VM_BASE.
# The cache key covers everything that goes in, so editing guest/init
# rebuilds it.
vm_base_initramfs() {
    local key stage t0
    key=$( { cat "$VM_DIR/guest/init"; echo "${VM_MODULES[*]}"; sha256sum /bin/busybox; } \
        | sha256sum | cut -c1-12)
    VM_BASE="$VM_CACHE/initramfs/$VM_KVER-$key.cpio"
    [[ -f $VM_BASE ]] && return 0
    t0=$(vm_now_ms)
    stage=$(mktemp -d)
    vm_stage_userland "$stage"
    vm_stage_modules "$stage"
    mkdir -p "$VM_CACHE/initramfs"
    rm -f "$VM_CACHE/initramfs/$VM_KVER"-*.cpio
    (cd "$stage" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
        | cpio -o -H newc -R 0:0 --quiet) >"$VM_BASE.tmp"
    mv "$VM_BASE.tmp" "$VM_BASE"
    rm -rf "$stage"
    vm_log "vm($VM_SERIES): base initramfs for $VM_KVER built in $(vm_secs_since "$t0")s"
}

# ------------------------------------------------------------------ payload
#
# The payload is a second cpio appended to the base one (the kernel unpacks
# concatenated archives in order). Host files keep their host paths, so a
# binary finds its libraries where ldd found them; symlinked directories
# (/lib -> usr/lib) are archived as the same symlinks.

declare -A VM_SEEN=() VM_REALDIR=()
VM_ENTRIES=()   # absolute host paths to archive, parents before children
VM_EXECS=()     # executables named by --add, linked into /vm/bin
VM_TESTS=()     # "NAME GUESTPATH TIMEOUT" lines for /vm/tests.list
VM_STAGE=       # generated guest files (/vm/...), made by vm_payload_begin

# realpath of a directory, memoised (ldd lists many files per directory).
# Sets REPLY rather than printing: a $(...) subshell would lose the memo.
vm_realdir() {
    [[ -n ${VM_REALDIR[$1]:-} ]] || VM_REALDIR[$1]=$(realpath "$1")
    REPLY=${VM_REALDIR[$1]}
}

# Add one host path and whatever makes it resolve in the guest: its parent
# directories, and for a symlink (or a path under a symlinked directory) the
# link plus its target.
vm_add_host_path() { # ABSPATH
    local p=$1 dir rdir entry target
    [[ $p == / || -n ${VM_SEEN[$p]:-} ]] && return 0
    VM_SEEN[$p]=1
    [[ -e $p || -L $p ]] || vm_die "no such file: $p"
    dir=${p%/*}; dir=${dir:-/}
    vm_add_host_path "$dir"
    vm_realdir "$dir"; rdir=$REPLY
    entry=${rdir%/}/${p##*/}
    if [[ $entry != "$p" ]]; then
        vm_add_host_path "$entry"
        return
    fi
    VM_ENTRIES+=("$p")
    if [[ -L $p ]]; then
        target=$(readlink "$p")
        [[ $target == /* ]] || target=$dir/$target
        # $dir has no symlinks in it here, so lexical clean-up is exact.
        vm_add_host_path "$(realpath -s -m "$target")"
    fi
}

# Add a file and, for a dynamically linked ELF, every library ldd lists
# (the loader /lib64/ld-linux-x86-64.so.2 included).
vm_add_with_libs() { # ABSPATH
    local f=$1 libs
    vm_add_host_path "$f"
    [[ -f $f && ( -x $f || $f == *.so* ) ]] || return 0
    [[ $(head -c 4 "$f" | tr -d '\0') == $'\x7fELF' ]] || return 0
    libs=$(ldd "$f" 2>/dev/null) || return 0   # static: nothing to add
    if grep -q 'not found' <<<"$libs"; then
        vm_die "$f: libraries missing on the host: $(grep 'not found' <<<"$libs" | tr -s ' \t' ' ')"
    fi
    while read -r lib; do
        vm_add_host_path "$lib"
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs")
    # The guest's loader uses the host's cache to find libraries in
    # directories outside its built-in search path.
    vm_add_host_path /etc/ld.so.cache
}

# --add ARG: a file or directory (relative to the caller's cwd), or a bare
# command name found in PATH (`--add bpftrace`).
vm_add_user_path() { # ARG
    local arg=$1 abs f
    if [[ $arg != */* && ! -e $arg ]]; then
        abs=$(command -v "$arg") || vm_die "--add $arg: not a file and not a command in PATH"
    else
        [[ -e $arg ]] || vm_die "--add $arg: no such file or directory"
        abs=$(realpath -s "$arg")
    fi
    if [[ -d $abs ]]; then
        vm_add_host_path "$abs"
        while IFS= read -r f; do vm_add_with_libs "$f"; done \
            < <(find "$abs" -mindepth 1 \( -type d -o -type f -o -type l \) | LC_ALL=C sort)
    else
        vm_add_with_libs "$abs"
        [[ -x $abs ]] && VM_EXECS+=("$abs")
    fi
    return 0
}

vm_payload_begin() {
    VM_STAGE=$VM_RUNDIR/stage
    mkdir -p "$VM_STAGE/vm/tests" "$VM_STAGE/vm/bin"
}

# Queue a guest test. Its timeout comes from a `# vm-timeout: N` line in the
# file, else TIMEOUT, else VM_DEFAULT_TEST_TIMEOUT.
vm_add_test() { # NAME FILE [TIMEOUT]
    local name=${1//[[:space:]]/_} file=$2 limit guest
    limit=$(sed -n 's/^# *vm-timeout: *\([0-9][0-9]*\).*/\1/p' "$file" | head -n 1)
    limit=${limit:-${3:-$VM_DEFAULT_TEST_TIMEOUT}}
    # Unique, and recognisable in the guest's own error messages.
    guest=/vm/tests/$(printf '%03d' ${#VM_TESTS[@]})-${name//\//-}
    cp "$file" "$VM_STAGE$guest"
    VM_TESTS+=("$name $guest $limit")
}

# Write the generated guest files and the final initrd: base + host files +
# generated files. Sets VM_INITRD and VM_INITRD_BYTES.
vm_payload_finish() { # OUTFILE
    local out=$1 e name applets
    printf '%s\n' "${VM_TESTS[@]}" >"$VM_STAGE/vm/tests.list"
    {
        printf 'VM_CWD=%q\n' "$PWD"
        # For tests that check they run on the kernel they were meant for.
        printf 'export VM_SERIES=%q VM_EXPECTED_KERNEL=%q\n' "$VM_SERIES" "$VM_KVER"
    } >"$VM_STAGE/vm/env"
    cp "$VM_DIR/guest/prelude.sh" "$VM_STAGE/vm/prelude.sh"
    applets=" $(busybox --list | tr '\n' ' ') "
    for e in "${VM_EXECS[@]}"; do
        name=${e##*/}
        ln -sf "$e" "$VM_STAGE/vm/bin/$name"
        # busybox sh runs its own applet before searching PATH; a function
        # is looked up before applets, so `tc` means the host's tc.
        [[ $applets == *" $name "* ]] &&
            printf '%s() { %q "$@"; }\n' "$name" "$e" >>"$VM_STAGE/vm/prelude.sh"
    done
    {
        cat "$VM_BASE"
        if ((${#VM_ENTRIES[@]})); then
            (cd / && printf '%s\n' "${VM_ENTRIES[@]#/}" | cpio -o -H newc -R 0:0 --quiet)
        fi
        (cd "$VM_STAGE" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
            | cpio -o -H newc -R 0:0 --quiet)
    } >"$out"
    rm -rf "$VM_STAGE"
    VM_INITRD=$out
    VM_INITRD_BYTES=$(stat -c %s "$out")
}

# Guest RAM: the initramfs is unpacked into RAM while its image is still held,
# and the tests need room to run, so 2.5x its size plus 256 MiB, rounded up to
# 64 MiB: 320 MiB for a small payload, 768 MiB with bpftrace's ~200 MB of
# libraries (at 512 MiB the kernel cannot even unpack that initramfs).
vm_auto_mem_mb() { # BYTES
    local mb=$(( ($1 * 5 / 2) / 1048576 + 256 ))
    echo $(( (mb + 63) / 64 * 64 ))
}

# --------------------------------------------------------------------- boot

# Boot the prepared kernel with VM_INITRD; the guest writes its results to
# RESULTS (second serial port), kernel messages go to CONSOLE. The host-side
# timeout covers a guest that hangs before its own per-test timeouts can act.
# With STREAM=1 the tests' output is copied to stdout while the guest runs.
vm_boot() { # MEM_MB HOST_TIMEOUT RESULTS CONSOLE STREAM [EXTRA_APPEND]
    local mem=$1 limit=$2 results=$3 console=$4 stream=$5 append=${6:-} rc=0 qpid spid=
    : >"$results"; : >"$console"
    # KVM is unavailable on these hosts (PVM): TCG with one thread per vCPU.
    # quiet: every console line costs emulated serial I/O.
    timeout -k 5 "$limit" qemu-system-x86_64 \
        -accel tcg,thread=multi -cpu max -smp 2 -m "${mem}M" \
        -nographic -monitor none -no-reboot -net none \
        -serial "file:$console" -serial "file:$results" \
        -kernel "$VM_VMLINUZ" -initrd "$VM_INITRD" \
        -append "console=ttyS0 panic=-1 quiet mitigations=off $append" \
        </dev/null >>"$console.qemu" 2>&1 &
    qpid=$!
    # A background job of a script ignores SIGINT: stop qemu on ^C ourselves.
    trap 'kill "$qpid" 2>/dev/null' INT TERM
    if [[ $stream == 1 ]]; then
        # tail --pid does a last read after qemu is gone, so nothing is lost.
        tail -n +1 -s 0.2 -f --pid="$qpid" "$results" | awk '
            { sub(/\r$/, "") }
            /^@@vm-test-begin / { on = 1; next }
            /^@@vm-test-end /   { on = 0; next }
            on { print; fflush() }' &
        spid=$!
    fi
    wait "$qpid" || rc=$?
    [[ -n $spid ]] && wait "$spid"
    trap - INT TERM
    ((rc == 124 || rc == 137)) && vm_log "vm($VM_SERIES): host timeout after ${limit}s"
    return 0
}

# Seconds the host waits: every test's own limit plus boot slack.
vm_host_timeout() {
    local t total=$VM_BOOT_SLACK
    for t in "${VM_TESTS[@]}"; do total=$((total + ${t##* })); done
    echo "$total"
}

# ------------------------------------------------------------------ results

# The part of a console log that explains a dead guest: from a little before
# the first panic/oops/BUG line, else the last lines.
vm_console_excerpt() { # CONSOLE
    local first
    first=$(grep -n -m 1 -E 'Kernel panic|BUG:|Oops|general protection|Out of memory|Call Trace' "$1" | cut -d: -f1 || true)
    if [[ -n $first ]]; then
        sed -n "$((first > 8 ? first - 8 : 1)),$((first + 16))p" "$1"
    else
        tail -n 25 "$1"
    fi
}

# Parse RESULTS. Mode "run": set VM_RC to the single test's exit code (its
# output was streamed by vm_boot). Mode "tests": print PASS/FAIL per test (output of
# failures, or of all tests with VERBOSE=1) and set VM_PASSED/VM_FAILED.
# Either way VM_DONE=1 only if the guest reached its final marker.
vm_parse_results() { # MODE RESULTS CONSOLE VERBOSE
    local mode=$1 results=$2 console=$3 verbose=${4:-0}
    local line cur= buf= rc secs note kernel= t
    local -A seen=()
    VM_PASSED=0 VM_FAILED=0 VM_DONE=0 VM_RC=125
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        case $line in
        '@@vm-boot '*)
            kernel=${line#*kernel=}; kernel=${kernel%% *}
            [[ $kernel == "$VM_KVER" ]] || { vm_log "vm($VM_SERIES): booted $kernel, expected $VM_KVER"; VM_FAILED=$((VM_FAILED + 1)); } ;;
        '@@vm-warn '*)
            vm_log "vm($VM_SERIES): guest warning: ${line#@@vm-warn }" ;;
        '@@vm-test-begin '*)
            cur=${line#@@vm-test-begin }; cur=${cur%% *}; buf= ; seen[$cur]=1 ;;
        '@@vm-test-end '*)
            rc=${line#*rc=}; rc=${rc%% *}
            secs=${line#*secs=}; secs=${secs%% *}
            note=; [[ $line == *timed-out* ]] && note=", timed out"
            if [[ $mode == run ]]; then
                VM_RC=$rc
            elif [[ $rc == 0 ]]; then
                VM_PASSED=$((VM_PASSED + 1))
                printf '  PASS %s (%ss)\n' "$cur" "$secs"
                [[ $verbose == 1 && -n $buf ]] && printf '%s' "$buf" | sed 's/^/       | /'
            else
                VM_FAILED=$((VM_FAILED + 1))
                printf '  FAIL %s (exit %s%s, %ss)\n' "$cur" "$rc" "$note" "$secs"
                [[ -n $buf ]] && printf '%s' "$buf" | sed 's/^/       | /'
            fi
            cur= ;;
        '@@vm-done '*)
            VM_DONE=1 ;;
        *)
            if [[ -n $cur ]]; then
                [[ $mode == run ]] || buf+="$line"$'\n'
            fi ;;
        esac
    done <"$results"
    if [[ -n $cur ]]; then
        # Began but never ended: the guest died or the host timeout hit.
        VM_FAILED=$((VM_FAILED + 1))
        [[ $mode == run ]] || { printf '  FAIL %s (no end marker)\n' "$cur"; printf '%s' "$buf" | sed 's/^/       | /'; }
    fi
    for t in "${VM_TESTS[@]}"; do
        t=${t%% *}
        [[ -n ${seen[$t]:-} ]] && continue
        VM_FAILED=$((VM_FAILED + 1))
        [[ $mode == run ]] || printf '  FAIL %s (not run)\n' "$t"
    done
    # With too little RAM the kernel unpacks part of the payload, says so on
    # the console only, and boots anyway: the tests then just are not there.
    if grep -q 'Initramfs unpacking failed' "$console"; then
        vm_log "vm($VM_SERIES): the kernel could not unpack the $((VM_INITRD_BYTES / 1048576)) MiB initramfs ($(grep -o 'Initramfs unpacking failed.*' "$console" | head -n 1)); give the guest more RAM with --mem"
        VM_FAILED=$((VM_FAILED > 0 ? VM_FAILED : 1))
    fi
    if ((VM_DONE == 0)); then
        vm_log "vm($VM_SERIES): the guest never reported completion; console:"
        # awk, not sed: the log may end mid-line.
        vm_console_excerpt "$console" | awk '{ print "  console| " $0 }' >&2
        awk '{ print "  qemu| " $0 }' "$console.qemu" >&2
    fi
    return 0
}

# ------------------------------------------------------------ entry points

# Options shared by vm/run and vm/run-tests; the rest stays in VM_ARGS.
VM_SERIES= VM_MEM= VM_ADDS=() VM_SNIPPETS=() VM_KEEP=0 VM_VERBOSE=0 VM_APPEND= VM_TIMEOUT=
vm_parse_common_args() {
    VM_ARGS=()
    while (($#)); do
        case $1 in
            --kernel) VM_SERIES=${2:?--kernel needs 6.12 or 6.1}; shift 2 ;;
            --mem) VM_MEM=${2:?--mem needs a size}; shift 2 ;;
            --add) VM_ADDS+=("${2:?--add needs a path}"); shift 2 ;;
            --snippet) VM_SNIPPETS+=("${2:?--snippet needs NAME CODE}" "${3:?--snippet needs NAME CODE}"); shift 3 ;;
            --timeout) VM_TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
            --append) VM_APPEND=${2:?--append needs kernel arguments}; shift 2 ;;
            --keep) VM_KEEP=1; shift ;;
            -v|--verbose) VM_VERBOSE=1; shift ;;
            -h|--help) vm_usage; exit 0 ;;
            --) shift; VM_ARGS+=("$@"); break ;;
            -*) vm_die "unknown option $1 (see --help)" ;;
            *) VM_ARGS+=("$1"); shift ;;
        esac
    done
    [[ -n $VM_SERIES ]] || vm_die "--kernel 6.12|6.1 is required"
    vm_kernel_meta "$VM_SERIES" >/dev/null
    return 0
}

# "1G", "768M" or "768" (MiB) -> MiB.
vm_mem_mb() {
    case $1 in
        *[gG]) echo $(( ${1%[gG]} * 1024 )) ;;
        *[mM]) echo "${1%[mM]}" ;;
        *[!0-9]*|'') vm_die "--mem: cannot read size '$1'" ;;
        *) echo "$1" ;;
    esac
}

# Host tools, kernel, base initramfs: everything cached between runs.
vm_setup() {
    local t0; t0=$(vm_now_ms)
    # Under the lock too: two runs installing packages at once would fight
    # over dpkg's lock.
    vm_lock_cache
    vm_ensure_host_tools
    vm_kernel_prepare "$VM_SERIES"
    vm_base_initramfs
    vm_unlock_cache
    VM_RUNDIR=$(mktemp -d /tmp/flowtrace-vm.XXXXXX)
    if ((VM_KEEP)); then
        vm_log "vm($VM_SERIES): keeping $VM_RUNDIR"
    else
        trap 'rm -rf "$VM_RUNDIR"' EXIT
    fi
    [[ $VM_VERBOSE == 1 ]] && vm_log "vm($VM_SERIES): kernel $VM_KVER ready in $(vm_secs_since "$t0")s"
    vm_payload_begin
    local a
    for a in "${VM_ADDS[@]}"; do vm_add_user_path "$a"; done
}

# Pack, boot, parse. MODE as for vm_parse_results.
vm_boot_and_parse() { # MODE
    local t0 mem limit
    t0=$(vm_now_ms)
    vm_payload_finish "$VM_RUNDIR/initrd.cpio"
    if [[ -n $VM_MEM ]]; then mem=$(vm_mem_mb "$VM_MEM"); else mem=$(vm_auto_mem_mb "$VM_INITRD_BYTES"); fi
    limit=$(vm_host_timeout)
    [[ $VM_VERBOSE == 1 ]] && vm_log "vm($VM_SERIES): initrd $((VM_INITRD_BYTES / 1048576)) MiB packed in $(vm_secs_since "$t0")s; booting with ${mem} MiB, host timeout ${limit}s"
    t0=$(vm_now_ms)
    vm_boot "$mem" "$limit" "$VM_RUNDIR/results" "$VM_RUNDIR/console" \
        "$([[ $1 == run ]] && echo 1 || echo 0)" "$VM_APPEND"
    VM_BOOT_SECS=$(vm_secs_since "$t0")
    vm_parse_results "$1" "$VM_RUNDIR/results" "$VM_RUNDIR/console" "$VM_VERBOSE"
}
