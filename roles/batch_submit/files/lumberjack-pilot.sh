#!/usr/bin/env bash
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# lumberjack-pilot.sh - run an exported HTCondor queue in a throw-away personal pool inside a batch job.
#
# Usage:
#   lumberjack-pilot.sh [ENV_FILE]            run the pool on this allocation (the batch job's script)
#   lumberjack-pilot.sh --print [ENV_FILE]    print what would be run (commands, node launches, walltime end)
#                                             and exit without starting anything
#   lumberjack-pilot.sh --node ENV_FILE       started by the head on every extra node: one condor_master
#                                             running only a startd that joins the head's collector
#   lumberjack-pilot.sh --count JOB_QUEUE_LOG print "total completed removed held unfinished" for a log
#
# ENV_FILE (default: pilot.env beside this script) is sourced; it sets LJ_RUN_DIR and the LJ_* settings
# documented in the batch_submit role's README. The pool reads only LJ_RUN_DIR/condor_config. The pilot starts
# condor_master, starts a startd on each extra node, watches the queue until every job has ended or the
# walltime margin is reached (or it gets SIGTERM), then stops the schedd cleanly (condor_off -schedd, which
# compacts SPOOL/job_queue.log for the import), then the masters, and writes LJ_RUN_DIR/pilot.result:
#   outcome=finished|walltime|failed, reason=..., jobs_total, jobs_completed, jobs_removed, jobs_held,
#   jobs_unfinished, started, ended, walltime_end, batch_job_id, schedd_stop, master_stop, nodes_stop
# Exit status: 0 every job finished, 3 stopped at the walltime margin (or by SIGTERM) with jobs unfinished,
# 1 failure.

set -u
umask 022

MODE=run
case "${1:-}" in
    --print) MODE=print; shift ;;
    --node) MODE=node; shift ;;
    --count) MODE=count; shift ;;
    -h|--help) sed -n '6,27p' "$0"; exit 0 ;;
esac
ENV_FILE=${1:-"$(cd "$(dirname "$0")" && pwd)/pilot.env"}
case "$ENV_FILE" in /*) ;; *) ENV_FILE="$(pwd)/$ENV_FILE" ;; esac
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

STARTED=$(date +%s)
RESULT_FILE=""
MASTER_PID=""
NODE_PIDS=()
STOPPING=0
SIGNALLED=""
JOBS_TOTAL=0
WALLTIME_END=0
SCHEDD_STOP=not_started
MASTER_STOP=not_started
NODES_STOP=none
COUNTS=""

log() { printf '%s lumberjack-pilot: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# ----------------------------------------------------------------------------------------- the result file
write_result() {  # write_result OUTCOME REASON: LJ_RUN_DIR/pilot.result, atomically
    local outcome=$1 reason=$2 tmp total completed removed held unfinished
    [ -n "$RESULT_FILE" ] || return 0
    read -r total completed removed held unfinished <<<"${COUNTS:-$JOBS_TOTAL 0 0 0 $JOBS_TOTAL}"
    tmp="$RESULT_FILE.tmp.$$"
    {
        printf 'outcome=%s\n' "$outcome"
        printf 'reason=%s\n' "$(printf '%s' "$reason" | tr '\n' ' ')"
        printf 'jobs_total=%s\n' "$total"
        printf 'jobs_completed=%s\n' "$completed"
        printf 'jobs_removed=%s\n' "$removed"
        printf 'jobs_held=%s\n' "$held"
        printf 'jobs_unfinished=%s\n' "$unfinished"
        printf 'started=%s\n' "$STARTED"
        printf 'ended=%s\n' "$(date +%s)"
        printf 'walltime_end=%s\n' "$WALLTIME_END"
        printf 'batch_job_id=%s\n' "$(batch_job_id)"
        printf 'schedd_stop=%s\n' "$SCHEDD_STOP"
        printf 'master_stop=%s\n' "$MASTER_STOP"
        printf 'nodes_stop=%s\n' "$NODES_STOP"
    } >"$tmp" && mv -f "$tmp" "$RESULT_FILE"
}

fail() {  # fail REASON: record the failure, stop what was started, exit 1
    log "failed: $1"
    [ -n "$MASTER_PID" ] && stop_pool 1
    write_result failed "$1"
    exit 1
}

batch_job_id() {
    printf '%s' "${SLURM_JOB_ID:-${PBS_JOBID:-${LSB_JOBID:-${FLUX_JOB_ID:-${JOB_ID:-${LUMBERJACK_LOCAL_JOB_ID:-}}}}}}"
}

# ----------------------------------------------------------------------------------------- settings
load_settings() {
    if [ ! -r "$ENV_FILE" ]; then
        echo "lumberjack-pilot: cannot read the settings file $ENV_FILE (render it with the batch_submit role)" >&2
        exit 1
    fi
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    LJ_RUN_DIR=${LJ_RUN_DIR:-}
    if [ -z "$LJ_RUN_DIR" ] || [ ! -d "$LJ_RUN_DIR" ]; then
        echo "lumberjack-pilot: $ENV_FILE: LJ_RUN_DIR '$LJ_RUN_DIR' is not a directory" >&2
        exit 1
    fi
    LJ_CONDOR_CONFIG=${LJ_CONDOR_CONFIG:-$LJ_RUN_DIR/condor_config}
    LJ_CONDOR_BIN_DIR=${LJ_CONDOR_BIN_DIR:-/opt/condor}
    LJ_CONTAINER_RUNTIME=${LJ_CONTAINER_RUNTIME:-}
    LJ_CONTAINER_IMAGE=${LJ_CONTAINER_IMAGE:-}
    if ! declare -p LJ_CONTAINER_OPTIONS >/dev/null 2>&1; then LJ_CONTAINER_OPTIONS=(); fi
    LJ_NODE_LAUNCHER=${LJ_NODE_LAUNCHER:-auto}
    LJ_NODE_LIST=${LJ_NODE_LIST:-}
    LJ_MPIEXEC=${LJ_MPIEXEC:-mpiexec}
    if ! declare -p LJ_MPIEXEC_ARGS >/dev/null 2>&1; then LJ_MPIEXEC_ARGS=(); fi
    LJ_NETWORK_INTERFACE=${LJ_NETWORK_INTERFACE:-}
    LJ_WALLTIME=${LJ_WALLTIME:-}
    LJ_WALLTIME_END=${LJ_WALLTIME_END:-0}
    LJ_DRAIN_MARGIN=${LJ_DRAIN_MARGIN:-300}
    LJ_POLL_INTERVAL=${LJ_POLL_INTERVAL:-30}
    LJ_STARTUP_TIMEOUT=${LJ_STARTUP_TIMEOUT:-300}
    LJ_STOP_TIMEOUT=${LJ_STOP_TIMEOUT:-120}
    LJ_TERM_STOP_TIMEOUT=${LJ_TERM_STOP_TIMEOUT:-20}
    LJ_HELD_IS_FINISHED=${LJ_HELD_IS_FINISHED:-1}
    RUN_ID=$(basename "$LJ_RUN_DIR")
    export CONDOR_CONFIG="$LJ_CONDOR_CONFIG"
    if [ -n "$LJ_NETWORK_INTERFACE" ]; then
        export _CONDOR_NETWORK_INTERFACE="$LJ_NETWORK_INTERFACE"
    fi
}

check_number() {  # check_number NAME VALUE
    case "$2" in
        ''|*[!0-9]*) echo "lumberjack-pilot: $ENV_FILE: $1='$2' is not a whole number of seconds" >&2; exit 1 ;;
    esac
}

# How HTCondor's programs are run: CONDOR_RUN is the prefix for the client commands (empty for native
# binaries), MASTER_CMD the foreground condor_master command, CONFIG_RUN the prefix for condor_config_val,
# which also runs before the pool is up (with podman, when there is no container to exec in yet).
setup_condor_commands() {
    local runtime=$LJ_CONTAINER_RUNTIME opts
    CONDOR_RUN=()
    case "$runtime" in
        '')
            if [ ! -x "$LJ_CONDOR_BIN_DIR/sbin/condor_master" ]; then
                echo "lumberjack-pilot: $ENV_FILE: $LJ_CONDOR_BIN_DIR/sbin/condor_master is missing: set LJ_CONDOR_BIN_DIR" \
                     "(batch_submit_condor_bin_dir) to the directory holding HTCondor's bin/ and sbin/" >&2
                exit 1
            fi
            PATH="$LJ_CONDOR_BIN_DIR/bin:$LJ_CONDOR_BIN_DIR/sbin:$PATH"
            export PATH
            MASTER_CMD=("$LJ_CONDOR_BIN_DIR/sbin/condor_master" -f)
            CONFIG_RUN=()
            ;;
        apptainer|singularity)
            [ -n "$LJ_CONTAINER_IMAGE" ] || { echo "lumberjack-pilot: $ENV_FILE: LJ_CONTAINER_IMAGE is empty" >&2; exit 1; }
            # CONDOR_CONFIG and the _CONDOR_* overrides are named with --env, so they arrive even with --cleanenv
            CONDOR_RUN=("$runtime" exec --bind "$LJ_RUN_DIR:$LJ_RUN_DIR")
            while IFS= read -r var; do
                CONDOR_RUN+=(--env "$var=${!var}")
            done < <(compgen -e | grep -E '^(CONDOR_CONFIG|_CONDOR_[A-Za-z0-9_]+)$')
            CONDOR_RUN+=("${LJ_CONTAINER_OPTIONS[@]}" "$LJ_CONTAINER_IMAGE")
            MASTER_CMD=("${CONDOR_RUN[@]}" condor_master -f)
            CONFIG_RUN=("${CONDOR_RUN[@]}")
            ;;
        podman)
            [ -n "$LJ_CONTAINER_IMAGE" ] || { echo "lumberjack-pilot: $ENV_FILE: LJ_CONTAINER_IMAGE is empty" >&2; exit 1; }
            CONTAINER_NAME="lumberjack-$RUN_ID-$(node_name)"
            opts=(--network host --userns keep-id --volume "$LJ_RUN_DIR:$LJ_RUN_DIR" --env CONDOR_CONFIG
                  --env '_CONDOR_*' "${LJ_CONTAINER_OPTIONS[@]}" "$LJ_CONTAINER_IMAGE")
            # --sig-proxy=false: a SIGTERM for the batch job must not reach condor_master before the pilot
            # has stopped the schedd itself; --replace: a container of an earlier, killed pilot of this run
            # (same name) does not stop this one from starting
            MASTER_CMD=(podman run --rm --replace --sig-proxy=false --name "$CONTAINER_NAME" "${opts[@]}"
                        condor_master -f)
            CONDOR_RUN=(podman exec "$CONTAINER_NAME")
            # podman exec needs the running container: before it runs, a throw-away one answers
            CONFIG_RUN=(podman run --rm --replace --name "$CONTAINER_NAME-config" "${opts[@]}")
            ;;
        *)
            echo "lumberjack-pilot: $ENV_FILE: LJ_CONTAINER_RUNTIME '$runtime' is not apptainer, singularity or podman" >&2
            exit 1
            ;;
    esac
}

condor() {  # condor PROGRAM ARGS...: an HTCondor client command, natively or in the container
    timeout 60 ${CONDOR_RUN[@]+"${CONDOR_RUN[@]}"} "$@"
}

config_val() {  # config_val KNOB: condor_config_val, also when the pool (its container) is not running
    local value="" client
    if [ "$LJ_CONTAINER_RUNTIME" != podman ]; then
        timeout 120 ${CONFIG_RUN[@]+"${CONFIG_RUN[@]}"} condor_config_val "$@"
        return
    fi
    # The answer is taken as soon as it is printed: `podman run` can stay on well after its container has ended,
    # waiting up to 20 s for podman's background clean-up of it, which the pilot need not wait for; then the
    # throw-away container and that client go. No answer (an undefined knob prints none) is a failure.
    read -r value < <(timeout 120 "${CONFIG_RUN[@]}" condor_config_val "$@")
    client=$!
    timeout 60 podman rm -f -t 0 "$CONTAINER_NAME-config" >/dev/null 2>&1
    kill "$client" 2>/dev/null
    [ -n "$value" ] && printf '%s\n' "$value"
}

quoted() { local a out=""; for a in "$@"; do out+="$(printf '%q' "$a") "; done; printf '%s' "${out% }"; }

# ----------------------------------------------------------------------------------------- walltime
walltime_seconds() {  # HH:MM:SS, D-HH:MM:SS, D-HH:MM, 45s / 90m / 2h / 1d, or minutes (as batch_job takes it)
    local w=$1 d=0 h m s=0
    if [[ $w =~ ^(([0-9]+)-)?([0-9]+):([0-9]{1,2})(:([0-9]{1,2}))?$ ]]; then
        d=${BASH_REMATCH[2]:-0}; h=${BASH_REMATCH[3]}; m=${BASH_REMATCH[4]}; s=${BASH_REMATCH[6]:-0}
        [ -z "${BASH_REMATCH[2]}" ] && [ -z "${BASH_REMATCH[6]}" ] && return 1
        echo $(( 10#$d * 86400 + 10#$h * 3600 + 10#$m * 60 + 10#$s ))
    elif [[ $w =~ ^([0-9]+)([smhd]?)$ ]]; then
        case "${BASH_REMATCH[2]}" in
            s) echo $(( 10#${BASH_REMATCH[1]} )) ;;
            h) echo $(( 10#${BASH_REMATCH[1]} * 3600 )) ;;
            d) echo $(( 10#${BASH_REMATCH[1]} * 86400 )) ;;
            *) echo $(( 10#${BASH_REMATCH[1]} * 60 )) ;;
        esac
    else
        return 1
    fi
}

# ---- the end of the walltime as the batch system tells it (the same functions in glidein-pilot.sh and
# lumberjack-pilot.sh)
clock_seconds() {  # [[D-]H:]M:S or plain seconds (the way PBS, Grid Engine and LSF print durations) in seconds
    local v=$1 d=0 h=0 m=0 s
    if [[ $v =~ ^[0-9]+$ ]]; then echo $((10#$v)); return 0; fi
    if [[ $v =~ ^(([0-9]+)-)?(([0-9]+):)?([0-9]+):([0-9]+)$ ]]; then
        d=${BASH_REMATCH[2]:-0} h=${BASH_REMATCH[4]:-0} m=${BASH_REMATCH[5]} s=${BASH_REMATCH[6]}
        echo $((10#$d * 86400 + 10#$h * 3600 + 10#$m * 60 + 10#$s))
        return 0
    fi
    return 1
}

epoch_of() {  # a date as the batch system prints it (local time) in seconds since the epoch
    case "$1" in
        ''|-|N/A|Unknown|NONE|None) return 1 ;;
        *[!0-9]*) date -d "$1" +%s 2>/dev/null ;;
        *) echo "$1" ;;
    esac
}

attr_value() {  # attr_value NAME: the value of "NAME = VALUE" (qstat -f) or "NAME: VALUE" (qstat -j) on stdin
    awk -v k="$1" '{ sub(/^[ \t]+/, "") }
        index($0, k " = ") == 1 { print substr($0, length(k) + 4); exit }
        index($0, k ":") == 1 { v = substr($0, length(k) + 2); sub(/^[ \t]+/, "", v); print v; exit }'
}

# "EPOCH SOURCE": when this batch job ends, as its batch system tells it; nothing when it does not. $1 is when
# the job started, as seen from inside it (used where the batch system tells the limit but not the start).
scheduler_walltime_end() {
    local started=$1 now out v start secs
    now=$(date +%s)
    if [ -n "${SLURM_JOB_ID:-}${SLURM_JOB_END_TIME:-}" ]; then
        # Slurm: SLURM_JOB_END_TIME (set in the batch job by Slurm 23.02 and later), else squeue's %e (EndTime,
        # "2026-11-22T05:10:02" for a running job, N/A or Unknown without a limit)
        if [ -n "${SLURM_JOB_END_TIME:-}" ]; then
            echo "$SLURM_JOB_END_TIME SLURM_JOB_END_TIME"
        elif command -v squeue >/dev/null 2>&1; then
            v=$(squeue -h -j "$SLURM_JOB_ID" -o %e 2>/dev/null | head -n 1)
            case "$v" in [0-9]*T*) v=$(epoch_of "$v") && echo "$v squeue" ;; esac
        fi
    elif [ -n "${PBS_JOBID:-}" ]; then
        command -v qstat >/dev/null 2>&1 || return 0
        # PBS Professional, OpenPBS and Torque: `qstat -f JOBID` prints "    name = value" lines (qstat(1B)).
        # Torque adds "Walltime.Remaining = SECONDS" for a running job and "start_time = EPOCH"; PBS
        # Professional prints "stime = Sun Nov 22 04:10:02 2026" (when the job started) and both print
        # "Resource_List.walltime = HH:MM:SS".
        out=$(qstat -f "$PBS_JOBID" 2>/dev/null) || return 0
        v=$(attr_value Walltime.Remaining <<<"$out")
        if [[ $v =~ ^[0-9]+$ ]]; then
            echo "$((now + 10#$v)) qstat-Walltime.Remaining"
            return 0
        fi
        secs=$(clock_seconds "$(attr_value Resource_List.walltime <<<"$out")") || return 0
        if start=$(epoch_of "$(attr_value stime <<<"$out")") || start=$(epoch_of "$(attr_value start_time <<<"$out")"); then
            echo "$((start + secs)) qstat-walltime"
        else
            echo "$((started + secs)) qstat-walltime"
        fi
    elif [ -n "${LSB_JOBID:-}" ]; then
        command -v bjobs >/dev/null 2>&1 || return 0
        # LSF: bjobs -o "time_left" prints the run time left as "hours:minutes" followed by L (a run limit
        # exists), E (an estimated run time: not a limit) or X (the estimate is exceeded), "-" without either
        # (bjobs -o and -WL in IBM Spectrum LSF 10.1's bjobs reference); with -hms (LSB_HMS_TIME_FORMAT=y)
        # hh:mm:ss. Then the run limit (runtimelimit, minutes, "60.0" or "60.0/hostA" with ABS_RUNLIMIT) from
        # the start.
        v=$(bjobs -noheader -o "time_left" "$LSB_JOBID" 2>/dev/null | head -n 1)
        if [[ $v =~ ^([0-9]+):([0-9]+)[[:space:]]*L$ ]]; then
            echo "$((now + 10#${BASH_REMATCH[1]} * 3600 + 10#${BASH_REMATCH[2]} * 60)) bjobs-time_left"
            return 0
        elif [[ $v =~ ^([0-9]+:[0-9]+:[0-9]+)[[:space:]]*L$ ]]; then
            echo "$((now + $(clock_seconds "${BASH_REMATCH[1]}"))) bjobs-time_left"
            return 0
        fi
        v=$(bjobs -noheader -o "runtimelimit" "$LSB_JOBID" 2>/dev/null | head -n 1)
        v=${v%%/*}
        if [[ $v =~ ^([0-9]+)(\.[0-9]+)?$ ]]; then
            echo "$((started + 10#${BASH_REMATCH[1]} * 60)) bjobs-runtimelimit"
        fi
    elif [ -n "${FLUX_JOB_ID:-}" ]; then
        command -v flux >/dev/null 2>&1 || return 0
        # Flux: the job's resource set R (RFC 20, `flux job info ID R`, JSON) holds execution.expiration, the
        # end of its time limit in seconds since the epoch (0 without a limit); `flux job timeleft` prints
        # the seconds left (flux-job(1); "infinity" without a limit).
        v=$(flux job info "$FLUX_JOB_ID" R 2>/dev/null | grep -o '"expiration": *[0-9.]*' | head -n 1)
        v=${v##*:}; v=${v// /}; v=${v%%.*}
        if [[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ]; then
            echo "$v flux-R"
            return 0
        fi
        v=$(flux job timeleft "$FLUX_JOB_ID" 2>/dev/null | head -n 1)
        v=${v%%.*}
        [[ $v =~ ^[0-9]+$ ]] && echo "$((now + v)) flux-timeleft"
    elif [ -n "${JOB_ID:-}" ] && [ -n "${SGE_ROOT:-}" ]; then
        command -v qstat >/dev/null 2>&1 || return 0
        # Grid Engine: `qstat -j ID` prints "hard resource_list:  h_rt=3600,..." (the limit, in seconds as
        # recorded from Grid Engine 8.1.9; [[H:]M:]S as submitted elsewhere); the start is the "submit/start
        # at" column (MM/DD/YYYY HH:MM:SS) of the job's running line in plain `qstat`.
        out=$(qstat -j "$JOB_ID" 2>/dev/null) || return 0
        v=$(attr_value "hard resource_list" <<<"$out" | tr ',' '\n' | sed -n 's/^h_rt=//p' | head -n 1)
        secs=$(clock_seconds "$v") || return 0
        v=$(qstat 2>/dev/null | awk -v id="$JOB_ID" '$1 == id && $5 ~ /r/ { print $6 " " $7; exit }')
        if start=$(epoch_of "$v"); then
            echo "$((start + secs)) qstat-h_rt"
        else
            echo "$((started + secs)) qstat-h_rt"
        fi
    fi
    return 0
}

# The epoch second the allocation ends: LJ_WALLTIME_END when set; else what the batch system tells
# (scheduler_walltime_end: Slurm, PBS/Torque, LSF, Flux, Grid Engine); else the pilot's start plus LJ_WALLTIME;
# 0 when unknown. WALLTIME_SOURCE says which.
find_walltime_end() {
    local end="" secs told
    if [ "${LJ_WALLTIME_END:-0}" != 0 ]; then
        end=$LJ_WALLTIME_END; WALLTIME_SOURCE=pilot.env
    else
        told=$(scheduler_walltime_end "$STARTED")
        if [ -n "$told" ]; then
            end=${told%% *}; WALLTIME_SOURCE=${told#* }
        fi
    fi
    if [ -z "$end" ] && [ -n "$LJ_WALLTIME" ]; then
        if ! secs=$(walltime_seconds "$LJ_WALLTIME"); then
            echo "lumberjack-pilot: $ENV_FILE: LJ_WALLTIME '$LJ_WALLTIME' is not a duration" >&2
            exit 1
        fi
        end=$(( STARTED + secs )); WALLTIME_SOURCE=LJ_WALLTIME
    fi
    case "$end" in
        ''|*[!0-9]*) WALLTIME_END=0; WALLTIME_SOURCE=none ;;
        *) WALLTIME_END=$end ;;
    esac
}

# ----------------------------------------------------------------------------------------- nodes
allocation_hosts() {  # the allocation's hosts, one a line, in order, without repeats
    if [ -n "$LJ_NODE_LIST" ]; then
        printf '%s\n' "${LJ_NODE_LIST//[, ]/$'\n'}"
    elif [ -n "${SLURM_JOB_NODELIST:-}" ]; then
        scontrol show hostnames "$SLURM_JOB_NODELIST" 2>/dev/null || tr ',' '\n' <<<"$SLURM_JOB_NODELIST"
    elif [ -n "${PBS_NODEFILE:-}" ] && [ -r "${PBS_NODEFILE:-}" ]; then
        cat "$PBS_NODEFILE"
    elif [ -n "${LSB_HOSTS:-}" ]; then
        tr ' ' '\n' <<<"$LSB_HOSTS"
    elif [ -n "${FLUX_JOB_ID:-}" ] && command -v flux >/dev/null 2>&1; then
        flux hostlist -e -d ' ' local 2>/dev/null | tr ' ' '\n'
    fi | awk 'NF && !seen[$1]++ { print $1 }'
}

# This node's name as the allocation lists it: Slurm's node name (which need not be the host name, and is
# not when several nodes share a host), else the short host name.
node_name() { printf '%s' "${SLURMD_NODENAME:-$(hostname -s)}"; }

find_extra_nodes() {  # EXTRA_NODES: the hosts besides this one
    local head h found=0
    head=$(node_name)
    EXTRA_NODES=()
    while read -r h; do
        if [ "$found" = 0 ] && { [ "$h" = "$head" ] || [ "${h%%.*}" = "$head" ]; }; then
            found=1
            continue
        fi
        EXTRA_NODES+=("$h")
    done < <(allocation_hosts)
    # the head is not in the list under its own name: it is the first host of the allocation
    if [ "$found" = 0 ] && [ "${#EXTRA_NODES[@]}" -gt 0 ]; then
        EXTRA_NODES=("${EXTRA_NODES[@]:1}")
    fi
}

node_launcher() {
    local l=$LJ_NODE_LAUNCHER
    if [ "$l" = auto ]; then
        if [ -n "${SLURM_JOB_ID:-}" ]; then l=srun
        elif [ -n "${PBS_JOBID:-}" ]; then l=pbsdsh
        else l=mpiexec
        fi
    fi
    printf '%s' "$l"
}

# NODE_COMMANDS: one command line (tab-free, shell-quoted words) per launch; run in the background
build_node_commands() {
    local launcher n list h
    NODE_COMMANDS=()
    n=${#EXTRA_NODES[@]}
    [ "$n" -gt 0 ] || return 0
    launcher=$(node_launcher)
    list=$(IFS=,; printf '%s' "${EXTRA_NODES[*]}")
    case "$launcher" in
        srun)
            NODE_COMMANDS+=("$(quoted srun --nodes="$n" --ntasks="$n" --ntasks-per-node=1 --nodelist="$list" \
                --kill-on-bad-exit=0 --export=ALL "$SELF" --node "$ENV_FILE")") ;;
        mpiexec)
            # without the head's SLURMD_NODENAME: MPICH's mpiexec passes its whole environment on to the
            # processes it starts, over the one srun (its launcher in a Slurm job) gives each node, and every
            # extra node would take the head's name
            NODE_COMMANDS+=("$(quoted env -u SLURMD_NODENAME "$LJ_MPIEXEC" \
                ${LJ_MPIEXEC_ARGS[@]+"${LJ_MPIEXEC_ARGS[@]}"} -n "$n" --host "$list" "$SELF" --node "$ENV_FILE")") ;;
        pbsdsh)
            for h in "${EXTRA_NODES[@]}"; do
                NODE_COMMANDS+=("$(quoted pbsdsh -h "$h" "$SELF" --node "$ENV_FILE")")
            done ;;
        none)
            log "LJ_NODE_LAUNCHER=none: the ${n} extra node(s) of the allocation stay unused" ;;
        *)
            echo "lumberjack-pilot: $ENV_FILE: LJ_NODE_LAUNCHER '$launcher' is not auto, srun, mpiexec, pbsdsh or none" >&2
            exit 1 ;;
    esac
}

launch_nodes() {
    local line words
    for line in ${NODE_COMMANDS[@]+"${NODE_COMMANDS[@]}"}; do
        eval "words=($line)"
        log "starting startds on the extra nodes: $line"
        "${words[@]}" &
        NODE_PIDS+=("$!")
    done
}

# --node: the extra node's own condor_master with a startd only, joining the head's collector
run_node() {
    local host local_dir head_log addr k v
    host=$(node_name)
    head_log=$(config_val LOG) || { log "condor_config_val LOG failed on $host"; exit 1; }
    # the pool password and tokens stay where the head's configuration has them
    for k in SEC_PASSWORD_DIRECTORY SEC_PASSWORD_FILE SEC_TOKEN_POOL_SIGNING_KEY_FILE SEC_TOKEN_SYSTEM_DIRECTORY; do
        if v=$(config_val "$k" 2>/dev/null) && [ -n "$v" ]; then
            export "_CONDOR_$k=$v"
        fi
    done
    for _ in $(seq 1 "$LJ_STARTUP_TIMEOUT"); do
        [ -s "$head_log/.collector_address" ] && break
        sleep 1
    done
    addr=$(head -n 1 "$head_log/.collector_address" 2>/dev/null)
    [ -n "$addr" ] || { log "$host: no collector address in $head_log/.collector_address"; exit 1; }
    local_dir="$LJ_RUN_DIR/local_dir/nodes/$host"
    mkdir -p "$local_dir"/log "$local_dir"/spool "$local_dir"/execute "$local_dir"/lock "$local_dir"/run
    export _CONDOR_DAEMON_LIST="MASTER STARTD"
    export _CONDOR_LOCAL_DIR="$local_dir"
    export _CONDOR_LOG="$local_dir/log" _CONDOR_SPOOL="$local_dir/spool" _CONDOR_EXECUTE="$local_dir/execute"
    export _CONDOR_LOCK="$local_dir/lock" _CONDOR_RUN="$local_dir/run"
    export _CONDOR_COLLECTOR_HOST="$addr"
    export _CONDOR_MASTER_NAME="$RUN_ID-$host" _CONDOR_STARTD_NAME="$RUN_ID-$host"
    setup_condor_commands
    log "$host: startd joining $addr"
    exec "${MASTER_CMD[@]}"
}

# ----------------------------------------------------------------------------------------- the queue
# "total completed removed held unfinished" from a job_queue.log: proc ads (C.P, P >= 0, C > 0) and their
# JobStatus, a proc's own or else its cluster's (C.-1, written 0C.-1 in an export); 1 (idle) when neither.
log_counts() {
    awk -v held_done="$LJ_HELD_IS_FINISHED" '
        function key(k,   a) { split(k, a, "."); C = a[1] + 0; P = a[2] + 0; return C "." P }
        $1 == 101 { k = key($2); if (C > 0 && P >= 0) job[k] = 1 }
        $1 == 102 { k = key($2); delete job[k]; delete st[k]; if (P == -1) delete cst[C] }
        $1 == 103 && $3 == "JobStatus" { k = key($2); if (P >= 0) st[k] = $4; else if (P == -1) cst[C] = $4 }
        $1 == 104 && $3 == "JobStatus" { k = key($2); if (P >= 0) delete st[k]; else if (P == -1) delete cst[C] }
        END {
            for (k in job) {
                split(k, a, ".")
                s = (k in st) ? st[k] : ((a[1] in cst) ? cst[a[1]] : 1)
                n[s]++; total++
            }
            ended = n[3] + n[4] + (held_done == 1 ? n[5] : 0)
            printf "%d %d %d %d %d\n", total, n[4], n[3], n[5], total - ended
        }' "$1"
}

# "seen completed removed held active" from condor_q, or nothing when the schedd does not answer
queue_counts() {
    local out
    out=$(condor condor_q -allusers -af JobStatus 2>/dev/null) || return 1
    awk -v held_done="$LJ_HELD_IS_FINISHED" '
        NF { n[$1]++; seen++ }
        END {
            active = seen - n[3] - n[4] - (held_done == 1 ? n[5] : 0)
            printf "%d %d %d %d %d\n", seen, n[4], n[3], n[5], active
        }' <<<"$out"
}

# ----------------------------------------------------------------------------------------- processes
descendants() {  # pids of every descendant of $1, with their command names: "PID COMM" a line
    ps -e -o pid= -o ppid= -o comm= | awk -v root="$1" '
        { parent[$1] = $2; comm[$1] = $3 }
        END {
            for (p in parent) {
                q = parent[p]; depth = 0
                while (q != "" && q != 0 && q != root && depth < 64) { q = parent[q]; depth++ }
                if (q == root && p != root) print p, comm[p]
            }
        }'
}

# With podman the daemons are not the pilot's descendants (conmon is their parent) and the `podman run` client
# may be gone while they run (a batch system's SIGTERM reaches it too): they are looked for in the container.
# shellcheck disable=SC2317  # called through wait_until and stop_pool
schedd_running() {
    if [ "$LJ_CONTAINER_RUNTIME" = podman ]; then
        timeout 30 podman exec "$CONTAINER_NAME" pgrep -x condor_schedd >/dev/null 2>&1
    else
        descendants "$MASTER_PID" | awk '$2 == "condor_schedd" { found = 1 } END { exit !found }'
    fi
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

master_running() {
    if [ "$LJ_CONTAINER_RUNTIME" = podman ]; then
        timeout 30 podman exec "$CONTAINER_NAME" pgrep -x condor_master >/dev/null 2>&1
    else
        alive "$MASTER_PID"
    fi
}

log_stamp() { stat -L -c '%i %s %Y' "$1" 2>/dev/null; }  # changes whenever the schedd writes its job log

# wait_for_queue_change LOG STAMP: sleep up to LJ_POLL_INTERVAL seconds in one-second steps, returning as soon
# as LOG no longer matches STAMP (the schedd logged a change: a job started, ended, was held) or a signal
# came; so the end of the last job is seen within a second or two, not a whole poll interval later.
wait_for_queue_change() {
    local i
    for (( i = 0; i < LJ_POLL_INTERVAL; i++ )); do
        sleep 1 &
        wait $!
        [ -n "$SIGNALLED" ] && return
        [ "$(log_stamp "$1")" != "$2" ] && return
    done
    return 0
}

wait_until() {  # wait_until SECONDS COMMAND...: poll every quarter second until COMMAND succeeds
    local deadline=$(( $(date +%s) + $1 ))
    shift
    while ! "$@"; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.25
    done
}

# shellcheck disable=SC2317  # called through wait_until
schedd_gone() { ! schedd_running; }
# shellcheck disable=SC2317  # called through wait_until
master_gone() { ! master_running; }

kill_tree() {  # kill_tree SIGNAL PID: the process and its descendants (and with podman, the container)
    local pids
    if [ "$LJ_CONTAINER_RUNTIME" = podman ]; then
        timeout 60 podman kill --signal "$1" "$CONTAINER_NAME" >/dev/null 2>&1
    fi
    pids=$(descendants "$2" | awk '{ print $1 }')
    # shellcheck disable=SC2086
    kill -s "$1" "$2" $pids 2>/dev/null
}

stop_node_masters() {
    local f addr
    for f in "$LJ_RUN_DIR"/local_dir/nodes/*/log/.master_address; do
        [ -s "$f" ] || continue
        addr=$(head -n 1 "$f")
        condor condor_off -fast -master -addr "$addr" >&2 || log "condor_off -fast -master -addr $addr ($f) failed"
    done
}

# Stop the pool: condor_off -schedd (the schedd compacts job_queue.log as it exits), wait for it, then the
# masters; kill only what does not go in time, and say so. FAST (1) is the SIGTERM path: shorter waits.
stop_pool() {
    local fast=$1 timeout=$LJ_STOP_TIMEOUT p
    [ "$fast" = 1 ] && timeout=$LJ_TERM_STOP_TIMEOUT
    STOPPING=1
    if master_running; then
        if [ "$fast" = 1 ]; then
            condor condor_off -fast -schedd >&2 || log "condor_off -fast -schedd failed"
        else
            condor condor_off -schedd >&2 || log "condor_off -schedd failed"
        fi
        if wait_until "$timeout" schedd_gone; then
            SCHEDD_STOP=clean
        else
            log "the schedd did not exit within ${timeout}s of condor_off: killing it"
            if [ "$LJ_CONTAINER_RUNTIME" = podman ]; then
                timeout 30 podman exec "$CONTAINER_NAME" pkill -KILL -x condor_schedd 2>/dev/null
            else
                descendants "$MASTER_PID" | awk '$2 == "condor_schedd" { print $1 }' | xargs -r kill -KILL 2>/dev/null
            fi
            SCHEDD_STOP=killed
        fi
        # the queue is safe on disk now: -fast, since a graceful startd would wait for the starters of
        # running jobs, whose shadows went with the schedd. The extra nodes' masters first, each at the address
        # it wrote on the shared run directory (their ads may not have reached the collector yet).
        [ "${#NODE_PIDS[@]}" -gt 0 ] && stop_node_masters
        condor condor_off -fast -master >&2 || log "condor_off -fast -master failed"
    else
        # the master (and so the schedd) went before it was asked to: nothing to stop
        SCHEDD_STOP=exited
    fi
    if wait_until "$timeout" master_gone; then
        MASTER_STOP=clean
    else
        log "condor_master (pid $MASTER_PID) did not exit within ${timeout}s: killing what is left of the pool"
        kill_tree TERM "$MASTER_PID"
        wait_until 5 master_gone || kill_tree KILL "$MASTER_PID"
        MASTER_STOP=killed
    fi
    # the pool's container has ended: its `podman run` client may still wait for podman's clean-up (see
    # config_val); the container is removed below
    [ "$LJ_CONTAINER_RUNTIME" = podman ] && kill "$MASTER_PID" 2>/dev/null
    wait "$MASTER_PID" 2>/dev/null
    for p in ${NODE_PIDS[@]+"${NODE_PIDS[@]}"}; do
        NODES_STOP=${NODES_STOP/none/clean}
        if ! wait_until "$timeout" eval "! kill -0 $p 2>/dev/null"; then
            log "the extra nodes' launcher (pid $p) is still there ${timeout}s after condor_off -fast -master: killing it"
            kill_tree TERM "$p"
            wait_until 5 eval "! kill -0 $p 2>/dev/null" || kill_tree KILL "$p"
            NODES_STOP=killed
        fi
    done
    # the pool is down; what remains of its container goes (by now it has exited, and --rm removed it unless
    # the podman client was gone)
    [ "$LJ_CONTAINER_RUNTIME" = podman ] && timeout 60 podman rm -f -t 0 "$CONTAINER_NAME" >/dev/null 2>&1
    return 0
}

# shellcheck disable=SC2317  # a trap handler
on_term() {
    SIGNALLED=${SIGNALLED:-$1}
    if [ "$STOPPING" = 0 ] && [ -n "$RESULT_FILE" ]; then
        # a first word in case the batch system's kill comes before the clean stop is over
        write_result failed "SIGTERM received; stopping the pool (the stop did not finish)"
    fi
}

# shellcheck disable=SC2317  # a trap handler
on_exit() {
    if [ -n "$MASTER_PID" ] && alive "$MASTER_PID"; then
        kill_tree KILL "$MASTER_PID"
    fi
    if [ -n "$MASTER_PID" ] && [ "$LJ_CONTAINER_RUNTIME" = podman ]; then
        timeout 60 podman rm -f -t 0 "$CONTAINER_NAME" >/dev/null 2>&1
    fi
}

# ----------------------------------------------------------------------------------------- main
if [ "$MODE" = count ]; then
    [ -r "${1:-}" ] || { echo "lumberjack-pilot: --count needs a readable job_queue.log" >&2; exit 1; }
    LJ_HELD_IS_FINISHED=${LJ_HELD_IS_FINISHED:-1}
    log_counts "$1"
    exit $?
fi

main() {
    local spool job_log counts seen completed removed held active now reason outcome status missing=0
    load_settings
    check_number LJ_DRAIN_MARGIN "$LJ_DRAIN_MARGIN"
    check_number LJ_POLL_INTERVAL "$LJ_POLL_INTERVAL"
    check_number LJ_STARTUP_TIMEOUT "$LJ_STARTUP_TIMEOUT"
    check_number LJ_STOP_TIMEOUT "$LJ_STOP_TIMEOUT"
    check_number LJ_TERM_STOP_TIMEOUT "$LJ_TERM_STOP_TIMEOUT"
    setup_condor_commands
    find_walltime_end
    find_extra_nodes
    build_node_commands

    if [ "$MODE" = print ]; then
        printf 'run_dir=%s\n' "$LJ_RUN_DIR"
        printf 'condor_config=%s\n' "$CONDOR_CONFIG"
        printf 'master=%s\n' "$(quoted "${MASTER_CMD[@]}")"
        printf 'client=%s\n' "$(quoted ${CONDOR_RUN[@]+"${CONDOR_RUN[@]}"} condor_q -allusers -af JobStatus)"
        printf 'config=%s\n' "$(quoted ${CONFIG_RUN[@]+"${CONFIG_RUN[@]}"} condor_config_val SPOOL)"
        printf 'walltime_end=%s\n' "$WALLTIME_END"
        printf 'walltime_source=%s\n' "$WALLTIME_SOURCE"
        printf 'drain_at=%s\n' "$(( WALLTIME_END > 0 ? WALLTIME_END - LJ_DRAIN_MARGIN : 0 ))"
        printf 'extra_nodes=%s\n' "${EXTRA_NODES[*]}"
        printf 'node_launcher=%s\n' "$(node_launcher)"
        for line in ${NODE_COMMANDS[@]+"${NODE_COMMANDS[@]}"}; do printf 'node_command=%s\n' "$line"; done
        exit 0
    fi
    if [ "$MODE" = node ]; then
        run_node
    fi

    RESULT_FILE="$LJ_RUN_DIR/pilot.result"
    trap 'on_term TERM' TERM
    trap 'on_term INT' INT
    trap on_exit EXIT
    [ -r "$CONDOR_CONFIG" ] || fail "$CONDOR_CONFIG is missing: lay out the run directory (minicondor_sandbox) first"
    # stdout only: a container runtime may warn on stderr; on failure its messages are the reason
    spool=$(config_val SPOOL 2>/dev/null) \
        || fail "condor_config_val SPOOL failed with $CONDOR_CONFIG: $(config_val SPOOL 2>&1 | tail -n 5)"
    job_log="$spool/job_queue.log"
    [ -r "$job_log" ] || fail "$job_log is missing: place the exported queue there (queue_rewrite) before the pilot runs"
    COUNTS=$(log_counts "$job_log") || fail "cannot read $job_log"
    read -r JOBS_TOTAL _ _ _ _ <<<"$COUNTS"
    log "$JOBS_TOTAL job(s) in $job_log; walltime end ${WALLTIME_END} (${WALLTIME_SOURCE}), drain margin ${LJ_DRAIN_MARGIN}s"
    if [ "$JOBS_TOTAL" = 0 ]; then
        write_result finished "no jobs in $job_log: nothing to run"
        exit 0
    fi

    log "starting $(quoted "${MASTER_CMD[@]}")"
    "${MASTER_CMD[@]}" &
    MASTER_PID=$!
    SCHEDD_STOP=running
    # up: the schedd answers condor_q
    local deadline=$(( $(date +%s) + LJ_STARTUP_TIMEOUT ))
    until condor condor_q -totals >/dev/null 2>&1; do
        if ! alive "$MASTER_PID"; then
            # nothing is left to stop: say so in the result instead of "running"
            SCHEDD_STOP=exited
            MASTER_STOP=exited
            MASTER_PID=""
            fail "condor_master exited during start-up; see the logs in $(config_val LOG 2>/dev/null)"
        fi
        [ -n "$SIGNALLED" ] && break
        [ "$(date +%s)" -ge "$deadline" ] && fail "the pool did not answer condor_q within ${LJ_STARTUP_TIMEOUT}s"
        sleep 0.25
    done
    # the schedd advertises its jobs and asks for a negotiation cycle now, not at its next SCHEDD_INTERVAL
    [ -z "$SIGNALLED" ] && { condor condor_reschedule >/dev/null 2>&1 || log "condor_reschedule failed (harmless)"; }
    if [ "${#NODE_COMMANDS[@]}" -gt 0 ] && [ -z "$SIGNALLED" ]; then
        local logdir
        logdir=$(condor condor_config_val LOG)
        wait_until "$LJ_STARTUP_TIMEOUT" test -s "$logdir/.collector_address" \
            || fail "the collector wrote no $logdir/.collector_address (COLLECTOR_ADDRESS_FILE) for the extra nodes"
        launch_nodes
    fi

    reason=""
    outcome=""
    while [ -z "$SIGNALLED" ]; do
        if ! master_running; then
            # a signal for the batch job may have taken the podman client with it: the pool is stopped below
            [ -n "$SIGNALLED" ] && break
            wait "$MASTER_PID"
            status=$?
            SCHEDD_STOP=exited
            MASTER_STOP=exited
            MASTER_PID=""
            COUNTS=$(log_counts "$job_log")
            fail "condor_master exited on its own (status $status); see the daemons' logs"
        fi
        stamp=$(log_stamp "$job_log")
        if counts=$(queue_counts); then
            read -r seen completed removed held active <<<"$counts"
            if [ "$active" = 0 ] && [ "$seen" -ge "$JOBS_TOTAL" ]; then
                reason="every job has ended ($completed completed, $removed removed, $held held)"
                break
            fi
            # jobs the schedd no longer lists (they left the queue): ended, once nothing else is active
            if [ "$active" = 0 ] && [ "$seen" -gt 0 ]; then
                missing=$(( missing + 1 ))
                if [ "$missing" -ge 3 ]; then
                    reason="no job is active; $(( JOBS_TOTAL - seen )) of $JOBS_TOTAL left the queue"
                    break
                fi
            else
                missing=0
            fi
        fi
        now=$(date +%s)
        if [ "$WALLTIME_END" -gt 0 ] && [ "$now" -ge $(( WALLTIME_END - LJ_DRAIN_MARGIN )) ]; then
            outcome=walltime
            reason="walltime margin reached: $(( WALLTIME_END - now ))s left, margin ${LJ_DRAIN_MARGIN}s"
            break
        fi
        wait_for_queue_change "$job_log" "$stamp"
    done
    if [ -n "$SIGNALLED" ]; then
        outcome=walltime
        reason="SIG$SIGNALLED received (cancelled, or the batch system ends the job)"
        log "$reason: stopping the pool"
        stop_pool 1
    else
        log "$reason: stopping the pool"
        stop_pool 0
    fi
    MASTER_PID_DONE=$MASTER_PID
    MASTER_PID=""
    COUNTS=$(log_counts "$job_log") || COUNTS="$JOBS_TOTAL 0 0 0 $JOBS_TOTAL"
    read -r _ completed removed held active <<<"$COUNTS"
    if [ "$SCHEDD_STOP" = killed ]; then
        write_result failed "$reason; the schedd had to be killed, $job_log may be inconsistent"
        exit 1
    fi
    [ "$MASTER_STOP" = killed ] && reason="$reason; condor_master $MASTER_PID_DONE had to be killed"
    if [ "$active" = 0 ]; then
        outcome=finished
        status=0
    else
        outcome=${outcome:-walltime}
        status=3
    fi
    write_result "$outcome" "$reason"
    log "outcome=$outcome ($COUNTS)"
    exit "$status"
}

main
