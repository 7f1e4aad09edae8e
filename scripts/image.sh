#!/usr/bin/env bash
# Build the container image with Debian's podman and smoke-test it, on a machine that has no
# Docker engine and on which `podman run` does not work (this project's development machines
# and CI). Run as root from anywhere:  bash scripts/image.sh
#
#  1. installs podman and debootstrap from Debian when they are missing;
#  2. makes the base image localhost/biconnector-base:bookworm with
#     `debootstrap --variant=minbase` and `podman import`, unless podman already has it;
#  3. builds the Containerfile into localhost/biconnector:test with
#     `podman build --isolation=chroot --network=host --format docker` (the Docker format
#     keeps the HEALTHCHECK), pip using this machine's CA bundle;
#  4. checks the image's configuration with `podman image inspect`: health check, non-root
#     user, entrypoint, environment;
#  5. mounts the image (`podman image mount`) and runs its entrypoint from its own files with
#     chroot, as its user, with its environment: it must refuse to start in production
#     without secrets, then, in development on a free loopback port, answer /health, pass
#     the image's own HEALTHCHECK command, and pass /connectors/{postgresql,mysql}/check
#     against the local PostgreSQL (5432, trust) and MariaDB (3306, root, no password);
#  6. stops the service by its PID and unmounts the image.
#
# Idempotent: the base image and podman's layer cache are kept, so a second run only rebuilds
# what changed. It removes only what it made: its temporary directories, its mounts, and the
# previous localhost/biconnector:test when a new build replaces it. Network: Debian's mirror
# (apt, debootstrap), PyPI (pip inside the build) and loopback; no container registry.
#
# Settings (environment): IMAGE, BASE_IMAGE, DEBIAN_MIRROR, PODMAN_STORAGE_DRIVER (vfs forces
# the vfs driver, in its own storage root), IMAGE_LOG_DIR (default var/image: the build log,
# the service's log).

set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
REPO=$PWD

IMAGE=${IMAGE:-localhost/biconnector:test}
BASE_IMAGE=${BASE_IMAGE:-localhost/biconnector-base:bookworm}
SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LOG_DIR=${IMAGE_LOG_DIR:-$REPO/var/image}
# Where pip inside the build finds this machine's CA bundle (see the Containerfile). Not
# /etc/ssl/certs itself: the runtime stage installs ca-certificates, whose post-installation
# script cannot write into a read-only mount there. /mnt is in every Debian root, so the
# mount leaves no empty mount point behind in the image.
BUILD_CA_DIR=/mnt

# --- output and timing ---------------------------------------------------------------------

T0=$EPOCHREALTIME
STEP=
STEP_T0=
SUMMARY=()

seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

end_step() {
    if [ -n "$STEP" ]; then
        SUMMARY+=("$(printf '%8ss  %s' "$(seconds_since "$STEP_T0")" "$STEP")")
    fi
    STEP=
}

step() {
    end_step
    STEP=$1
    STEP_T0=$EPOCHREALTIME
    printf '\n==> [%ss] %s\n' "$(seconds_since "$T0")" "$STEP"
}

say() { printf '    %s\n' "$*"; }

die() {
    printf '\nFAILED%s: %s\n' "${STEP:+ in \"$STEP\"}" "$*" >&2
    exit 1
}

# --- cleanup of what this run made -----------------------------------------------------------

SERVICE_PID=
MOUNTED=
TEMP_DIRS=()

cleanup() {
    local status=$?
    set +e
    if [ -n "$SERVICE_PID" ] && kill -0 "$SERVICE_PID" 2>/dev/null; then
        kill -TERM "$SERVICE_PID"
        for _ in $(seq 50); do kill -0 "$SERVICE_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$SERVICE_PID" 2>/dev/null
        wait "$SERVICE_PID" 2>/dev/null
    fi
    if [ -n "$MOUNTED" ]; then
        "${PODMAN[@]}" image unmount "$IMAGE" >/dev/null
    fi
    local dir
    for dir in "${TEMP_DIRS[@]}"; do
        # --one-file-system: never descend into something still mounted below it.
        rm -rf --one-file-system "$dir"
    done
    if [ "$status" -ne 0 ] && [ -s "$LOG_DIR/service.log" ]; then
        printf '\nThe service log (%s) ends with:\n' "$LOG_DIR/service.log" >&2
        tail -n 30 "$LOG_DIR/service.log" | sed 's/^/    /' >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 0. preconditions ------------------------------------------------------------------------

step "preconditions"
[ "$(id -u)" -eq 0 ] || die "run as root (podman's storage, debootstrap, mount and chroot need it)"
mkdir -p "$LOG_DIR" /run/lock
# Two runs at once would share the test image's tag and its mount: one waits for the other.
exec 9>/run/lock/biconnector-image.lock
if ! flock --nonblock 9; then
    say "waiting for another scripts/image.sh to finish"
    flock --wait 3600 9 || die "another scripts/image.sh has held its lock for an hour"
fi
say "repository $REPO, image $IMAGE, base $BASE_IMAGE, logs in $LOG_DIR"

# --- 1. tools --------------------------------------------------------------------------------

step "tools from Debian (podman, debootstrap)"
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    # As root with the kernel's overlayfs, podman needs neither uidmap nor fuse-overlayfs,
    # which are only recommended.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"$LOG_DIR/apt.log" 2>&1 || { tail -n 20 "$LOG_DIR/apt.log"; die "apt-get install failed"; }
fi
say "$(podman --version), debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"

# The storage driver: podman's default (overlay, on the kernel's overlayfs) where it works;
# otherwise vfs (plain copies: slower and larger, but works on any file system), in a storage
# root of its own, since one root cannot change its driver.
PODMAN=(podman)
if [ "${PODMAN_STORAGE_DRIVER:-}" = vfs ]; then
    PODMAN+=(--storage-driver vfs --root /var/lib/containers/storage-vfs)
elif ! podman info >"$LOG_DIR/podman-info.log" 2>&1; then
    say "podman's default storage does not work here ($(tail -n 1 "$LOG_DIR/podman-info.log")): using vfs"
    PODMAN+=(--storage-driver vfs --root /var/lib/containers/storage-vfs)
fi
say "storage: $("${PODMAN[@]}" info --format '{{.Store.GraphDriverName}} in {{.Store.GraphRoot}}')"

# --- 2. the base image -----------------------------------------------------------------------

step "base image $BASE_IMAGE (debootstrap --variant=minbase $SUITE)"
if "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
    say "already in podman's storage: kept ($("${PODMAN[@]}" image inspect --format '{{.Created}}' "$BASE_IMAGE"))"
else
    rootfs=$(mktemp -d /var/tmp/biconnector-rootfs.XXXXXX)
    TEMP_DIRS+=("$rootfs")
    say "debootstrap into $rootfs from $DEBIAN_MIRROR (log: $LOG_DIR/debootstrap.log)"
    # In a mount namespace of its own, so that no /proc or /sys mount of the target can
    # outlive it, even when it fails.
    unshare --mount --propagation private \
        debootstrap --variant=minbase "$SUITE" "$rootfs" "$DEBIAN_MIRROR" \
        >"$LOG_DIR/debootstrap.log" 2>&1 \
        || { tail -n 20 "$LOG_DIR/debootstrap.log"; die "debootstrap failed"; }

    # Like the official debian:bookworm-slim: updates and security updates in the sources,
    # no documentation or manual pages (dpkg leaves them out of later installs too), no
    # package lists, and none of this machine's identity.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/biconnector-excludes" <<'EOF'
# Made by scripts/image.sh: the image needs no documentation (licences are kept).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
    rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"

    say "podman import ($(du -sh "$rootfs" | cut -f1) of files)"
    tar --numeric-owner -C "$rootfs" -c . \
        | "${PODMAN[@]}" import --quiet \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["/bin/bash"]' \
            - "$BASE_IMAGE" >/dev/null
    rm -rf --one-file-system "$rootfs"
fi

# --- 3. the image ----------------------------------------------------------------------------

step "podman build $IMAGE (log: $LOG_DIR/build.log)"
previous=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
# --isolation=chroot: RUN steps in a chroot, without an OCI runtime or cgroups.
# --network=host: apt and pip reach the mirrors as this machine does.
# --format docker: keeps HEALTHCHECK. --pull=never: the base is local; no registry is asked.
"${PODMAN[@]}" build \
    --isolation=chroot --network=host --format docker --layers --pull=never \
    --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --build-arg PIP_CERT="$BUILD_CA_DIR/ca-certificates.crt" \
    --volume /etc/ssl/certs:"$BUILD_CA_DIR":ro \
    --tag "$IMAGE" --file Containerfile . \
    >"$LOG_DIR/build.log" 2>&1 &
build_pid=$!
# The steps as they go (the whole output is in the log).
tail -n +1 -f --pid="$build_pid" "$LOG_DIR/build.log" \
    | grep --line-buffered -E '^(\[[0-9]+/[0-9]+\] )?STEP |^--> Using cache' \
    | awk '/^--> Using cache/ { print "        (from the cache)"; fflush(); next }
           { print "    " substr($0, 1, 110); fflush() }' || true
wait "$build_pid" || { tail -n 40 "$LOG_DIR/build.log"; die "podman build failed"; }
image_id=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$previous" ] && [ "$previous" != "$image_id" ]; then
    # The image this build replaced is untagged now: remove it (and its own layers).
    "${PODMAN[@]}" rmi "$previous" >/dev/null 2>&1 && say "removed the previous build ${previous:0:12}" || true
fi
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
say "built ${image_id:0:12}: $((size / 1000000)) MB ($(grep -c -- '--> Using cache' "$LOG_DIR/build.log" || true) steps from the cache)"

# --- 4. the image's configuration ------------------------------------------------------------

step "podman image inspect: health check, user, entrypoint, environment"
"${PODMAN[@]}" image inspect "$IMAGE" >"$LOG_DIR/inspect.json"
# Prints NAME=VALUE lines for the shell (values quoted), or fails naming what is wrong.
config=$(python3 - "$LOG_DIR/inspect.json" <<'EOF'
import json, shlex, sys

image = json.load(open(sys.argv[1]))[0]
config = image["Config"]
problems = []
health = image.get("HealthCheck") or image.get("Healthcheck") or config.get("Healthcheck") or {}
test = health.get("Test") or []
if not test or test[0] not in ("CMD", "CMD-SHELL") or "/health" not in " ".join(test):
    problems.append(f"no HEALTHCHECK requesting /health (found {test!r})")
user = config.get("User", "")
if user.split(":")[0] in ("", "0", "root"):
    problems.append(f"runs as root (User={user!r})")
command = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
if not command or not command[0].endswith("/biconnector") or command[1:] != ["serve"]:
    problems.append(f"entrypoint is not `biconnector serve` ({command!r})")
env = dict(item.split("=", 1) for item in config.get("Env") or [])
for name, value in (("BIND_HOST", "0.0.0.0"), ("BIND_PORT", "8000")):
    if env.get(name) != value:
        problems.append(f"{name} is {env.get(name)!r}, expected {value!r}")
if not env.get("STATE_DIR", "").startswith("/"):
    problems.append(f"STATE_DIR is {env.get('STATE_DIR')!r}, expected an absolute path")
if "8000/tcp" not in (config.get("ExposedPorts") or {}):
    problems.append("port 8000 is not exposed")
if problems:
    sys.exit("; ".join(problems))
print(f"USER_SPEC={shlex.quote(user)}")
print(f"WORKDIR={shlex.quote(config.get('WorkingDir') or '/')}")
print(f"STATE_DIR={shlex.quote(env['STATE_DIR'])}")
print(f"COMMAND=({shlex.join(command)})")
print(f"HEALTH=({shlex.join(test)})")
print(f"IMAGE_ENV=({shlex.join(f'{k}={v}' for k, v in env.items())})")
interval = health.get("Interval", 0) // 10**9
summary = f"user {user}, entrypoint {shlex.join(command)}, health check {test[0]} every {interval}s"
print(f"IMAGE_SUMMARY={shlex.quote(summary)}")
EOF
) || die "the image's configuration: $config"
eval "$config"
say "$IMAGE_SUMMARY"

# --- 5. smoke test from the image's files ----------------------------------------------------

step "podman image mount"
mountpoint=$("${PODMAN[@]}" image mount "$IMAGE")
MOUNTED=1
say "the image's files are at $mountpoint"

# The user, numeric, as the image's own /etc/passwd and /etc/group say.
uid=${USER_SPEC%%:*}
gid=
[ "$USER_SPEC" != "$uid" ] && gid=${USER_SPEC#*:}
if ! [[ $uid =~ ^[0-9]+$ ]]; then
    uid=$(awk -F: -v u="$uid" '$1 == u { print $3 }' "$mountpoint/etc/passwd")
fi
passwd_line=$(awk -F: -v u="$uid" '$3 == u' "$mountpoint/etc/passwd")
[ -n "$uid" ] && [ -n "$passwd_line" ] || die "the image's user $USER_SPEC is not in its /etc/passwd"
[ -n "$gid" ] || gid=$(cut -d: -f4 <<<"$passwd_line")
if ! [[ $gid =~ ^[0-9]+$ ]]; then
    gid=$(awk -F: -v g="$gid" '$1 == g { print $3 }' "$mountpoint/etc/group")
fi
home=$(cut -d: -f6 <<<"$passwd_line")
[ "$uid" -ne 0 ] || die "the image's user is root"
say "user $(cut -d: -f1 <<<"$passwd_line") ($uid:$gid), home $home"
owner=$(stat -c '%u:%g' "$mountpoint$STATE_DIR") || die "STATE_DIR $STATE_DIR is not in the image"
[ "$owner" = "$uid:$gid" ] || die "STATE_DIR $STATE_DIR belongs to $owner, not to $uid:$gid"
say "STATE_DIR $STATE_DIR belongs to the user"
baked=$(find "$mountpoint" -xdev \( -name .env -o -name '.env.*' \) -print -quit)
[ -z "$baked" ] || die "the image contains ${baked#"$mountpoint"}: configuration must come from the environment only"
say "no .env file anywhere in the image"

rundir=$(mktemp -d /tmp/biconnector-smoke.XXXXXX)
TEMP_DIRS+=("$rundir")
# A fresh, writable state directory owned by the image's user, in place of the volume.
install -d -o "$uid" -g "$gid" -m 0750 "$rundir/state"

# Runs a command from the image's files as the image's user, with the image's environment
# and working directory plus the NAME=VALUE overrides before `--`, as a container would: in
# a mount namespace of its own holding /dev, /proc, a /tmp and the state volume, so none of
# these mounts outlives the process. The network is this machine's (loopback included).
# It execs (unshare, sh, chroot and env each exec the next), so that the PID of
# `in_image ... &` is the command's own: call it in the background or in a subshell.
in_image() {
    local overrides=()
    while [ "$1" != -- ]; do overrides+=("$1"); shift; done
    shift
    exec 9>&-  # not the lock: a process left behind must not hold it
    exec unshare --mount --propagation private -- /bin/sh -euc '
        root=$1 state=$2 state_dir=$3 uid=$4 gid=$5 workdir=$6; shift 6
        mount --rbind /dev "$root/dev"
        mount -t proc proc "$root/proc"
        mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
        mount --bind "$state" "$root$state_dir"
        exec chroot --userspec="$uid:$gid" --groups="$gid" "$root" \
            /usr/bin/env -i --chdir="$workdir" "$@"
    ' in_image "$mountpoint" "$rundir/state" "$STATE_DIR" "$uid" "$gid" "$WORKDIR" \
        "${IMAGE_ENV[@]}" "HOME=$home" "${overrides[@]}" "$@"
}

# Waits up to $1 seconds for the service process to end, dying with $2 if it does not;
# its exit status is left in $code.
await_exit() {
    local deadline=$((SECONDS + $1))
    while kill -0 "$SERVICE_PID" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || die "$2"
        sleep 0.2
    done
    set +e
    wait "$SERVICE_PID"
    code=$?
    set -e
    SERVICE_PID=
}

step "the image's defaults: production refuses to start without secrets"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Only the address is changed, in case it did start.
in_image BIND_HOST=127.0.0.1 "BIND_PORT=$port" -- "${COMMAND[@]}" >"$LOG_DIR/refusal.log" 2>&1 &
SERVICE_PID=$!
await_exit 60 "the entrypoint started in production without secrets"
if [ "$code" -eq 0 ] || ! grep -q APP_SECRET "$LOG_DIR/refusal.log"; then
    tail -n 10 "$LOG_DIR/refusal.log"
    die "expected the entrypoint to refuse to start naming APP_SECRET; it exited $code"
fi
say "exit $code: $(head -n 3 "$LOG_DIR/refusal.log" | tr -s '\n ' ' ')"

step "start the entrypoint in development on loopback, with two workers"
# Two worker processes, as on a host with two cores: the supervisor, the workers it spawns
# and their shared metrics directory in STATE_DIR all run from the image.
in_image APP_ENV=development BIND_HOST=127.0.0.1 "BIND_PORT=$port" WORKERS=2 -- "${COMMAND[@]}" \
    >"$LOG_DIR/service.log" 2>&1 &
SERVICE_PID=$!
say "pid $SERVICE_PID: $(printf '%q ' "${COMMAND[@]}")on http://127.0.0.1:$port (log: $LOG_DIR/service.log)"

# GET or POST (with a JSON body) to the service; prints "STATUS BODY", fails on no answer.
http() {
    python3 - "http://127.0.0.1:$port$1" "${2:-}" <<'EOF'
import sys, urllib.error, urllib.request

url, body = sys.argv[1], sys.argv[2]
request = urllib.request.Request(
    url,
    data=body.encode() if body else None,
    headers={"Content-Type": "application/json"} if body else {},
)
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
except OSError as error:
    sys.exit(f"no answer: {error}")
EOF
}

step "GET /health answers 200"
deadline=$((SECONDS + 60))
until answer=$(http /health 2>/dev/null) && [ "${answer%% *}" = 200 ]; do
    kill -0 "$SERVICE_PID" 2>/dev/null || die "the service exited before answering /health"
    [ "$SECONDS" -lt "$deadline" ] || die "no 200 from /health within 60 seconds"
    sleep 0.25
done
say "$answer"
# The PID is the service's own, so that stopping it below tests its handling of SIGTERM.
tr '\0' ' ' <"/proc/$SERVICE_PID/cmdline" | grep -q 'biconnector serve' \
    || die "pid $SERVICE_PID is not the service but $(tr '\0' ' ' <"/proc/$SERVICE_PID/cmdline")"

answer=$(http /metrics) && [ "${answer%% *}" = 200 ] || die "GET /metrics: ${answer:0:200}"
say "GET /metrics: 200, $(grep -c '^biconnector_' <<<"$answer" || true) samples"

step "the image's HEALTHCHECK command passes"
case ${HEALTH[0]} in
    CMD) health_command=("${HEALTH[@]:1}") ;;
    CMD-SHELL) health_command=(/bin/sh -c "${HEALTH[1]}") ;;
esac
(in_image "BIND_PORT=$port" -- "${health_command[@]}") || die "the HEALTHCHECK command failed"
say "exit 0: ${health_command[*]}"

step "checks against the local test databases"
# The machine's servers (README.md, Development); started as .ci/run starts them when down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
fi
if ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
    say "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
for engine_body in \
    'postgresql {"connection": {"host": "127.0.0.1", "port": 5432, "database": "postgres", "username": "postgres"}}' \
    'mysql {"connection": {"host": "127.0.0.1", "port": 3306, "database": "mysql", "username": "root"}}'; do
    engine=${engine_body%% *}
    body=${engine_body#* }
    deadline=$((SECONDS + 60))
    # A server that is still starting answers 502; anything else is final.
    while answer=$(http "/connectors/$engine/check" "$body") && [ "${answer%% *}" = 502 ] \
        && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 1
    done
    status=${answer%% *}
    python3 -c 'import json, sys; assert json.loads(sys.argv[1])["status"] == "ok"' "${answer#* }" 2>/dev/null \
        && [ "$status" = 200 ] || die "POST /connectors/$engine/check: $answer"
    say "POST /connectors/$engine/check: $answer"
done

step "stop the service (SIGTERM to pid $SERVICE_PID)"
kill -TERM "$SERVICE_PID"
await_exit 30 "the service did not stop within 30 seconds of SIGTERM"
# uvicorn shuts down, then ends by the signal it caught: 143 (128 + SIGTERM) or 0.
[ "$code" -eq 0 ] || [ "$code" -eq 143 ] || die "the service exited $code after SIGTERM"
say "stopped in $(seconds_since "$STEP_T0")s, exit status $code; $(grep -c -E '"level": "(ERROR|CRITICAL)"' "$LOG_DIR/service.log" || true) error lines in its log"

step "podman image unmount"
"${PODMAN[@]}" image unmount "$IMAGE" >/dev/null
MOUNTED=
say "unmounted"

end_step
printf '\nThe image %s passed its smoke test in %ss:\n' "$IMAGE" "$(seconds_since "$T0")"
printf '%s\n' "${SUMMARY[@]}"
