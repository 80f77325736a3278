#!/usr/bin/env bash
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# glidein-pilot.sh: the batch job of a glidein. It starts a startd-only HTCondor (condor_master + startd)
# on every node of its allocation, reporting to the home collector, and takes it out of the pool again
# whenever the batch job ends.
#
#   glidein-pilot.sh                        run by the scheduler (batch mode); reads $GLIDEIN_ENV_FILE
#   glidein-pilot.sh node ENV PILOT_DIR ID TODIE
#                                           run on each node by srun, mpiexec or pbsdsh (node mode)
#
# Everything it needs comes from the env file the glidein role renders (GLIDEIN_* variables, see
# roles/glidein/templates/glidein.env.j2); what the batch system granted (cores, memory, GPUs, end of the
# walltime) is read here, at run time, on the node.
#
# Batch mode: makes one directory per pilot, GLIDEIN_BASE_DIR/NAME-JOBID-RANDOM (never reused), starts the
# node mode on every node, waits, then keeps the logs (tar.gz in GLIDEIN_LOG_DIR) when asked and removes
# the directory.
# Node mode: writes the node's configuration, copies the IDTOKEN (or pool password) 0600 into its own
# directory, starts condor_master in the foreground, drains before the end of the walltime
# (condor_off -peaceful, then fast shutdown at the margin), and on TERM, INT or EXIT shuts the master down
# and invalidates its ads in the collector, so no slot of a pilot that is gone stays in the pool.

set -u
umask 077

log() { printf '%s glidein[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${GLIDEIN_ROLE_OF_PROCESS:-batch}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

load_env() {
    local env_file=$1
    [ -n "$env_file" ] || die "GLIDEIN_ENV_FILE is not set: submit this script through the glidein role"
    [ -r "$env_file" ] || die "cannot read the env file $env_file"
    # shellcheck disable=SC1090
    . "$env_file"
    : "${GLIDEIN_NAME:?is not set in $env_file}" "${GLIDEIN_BASE_DIR:?is not set in $env_file}"
    : "${GLIDEIN_CONFIG_DIR:?is not set in $env_file}" "${GLIDEIN_LOG_DIR:?is not set in $env_file}"
    : "${GLIDEIN_SITE:?is not set in $env_file}"
    local raw=${GLIDEIN_WALLTIME:-}
    GLIDEIN_WALLTIME=$(seconds "$raw") || die "GLIDEIN_WALLTIME=$raw in $env_file is not a walltime (HH:MM:SS, 2h, ...)"
    raw=${GLIDEIN_MEMORY:-}
    GLIDEIN_MEMORY_MB=$(mebibytes "$raw") || die "GLIDEIN_MEMORY=$raw in $env_file is not a memory size (4G, 4096M, ...)"
    GLIDEIN_DRAIN_MARGIN=${GLIDEIN_DRAIN_MARGIN:-300}
    GLIDEIN_KILL_MARGIN=${GLIDEIN_KILL_MARGIN:-60}
    GLIDEIN_POLL_INTERVAL=${GLIDEIN_POLL_INTERVAL:-5}
    GLIDEIN_SHUTDOWN_WAIT=${GLIDEIN_SHUTDOWN_WAIT:-10}
    GLIDEIN_KEEP_LOGS=${GLIDEIN_KEEP_LOGS:-true}
    GLIDEIN_LAUNCHER=${GLIDEIN_LAUNCHER:-auto}
    if [ -n "${GLIDEIN_CONDOR_PREFIX:-}" ]; then
        PATH="$GLIDEIN_CONDOR_PREFIX/bin:$GLIDEIN_CONDOR_PREFIX/sbin:$PATH"
        export PATH
    fi
    command -v condor_master >/dev/null 2>&1 || die "condor_master is not on PATH ($PATH): set glidein_condor_prefix"
}

# A walltime as batch_job takes it (HH:MM:SS, D-HH:MM:SS, D-HH:MM, 45s, 90m, 2h, 1d, minutes) in seconds.
seconds() {
    local v=$1 d=0 rest
    case "$v" in
        "") echo 0 ;;
        *[0-9]s) echo "${v%s}" ;;
        *[0-9]m) echo $((${v%m} * 60)) ;;
        *[0-9]h) echo $((${v%h} * 3600)) ;;
        *[0-9]d) echo $((${v%d} * 86400)) ;;
        *-*:*:*) d=${v%%-*}; rest=${v#*-}; echo $((10#$d * 86400 + $(hms "$rest"))) ;;
        *-*:*) d=${v%%-*}; rest=${v#*-}; echo $((10#$d * 86400 + $(hms "$rest:00"))) ;;
        *:*:*) hms "$v" ;;
        *[!0-9]*) return 1 ;;
        *) echo $((v * 60)) ;;
    esac
}
hms() { local h=${1%%:*} m s; m=${1#*:}; s=${m#*:}; m=${m%%:*}; echo $((10#$h * 3600 + 10#$m * 60 + 10#$s)); }

# A memory size (4096, 4096M, 4G, 1T; a bare number is MiB) in MiB.
mebibytes() {
    local v=${1%[Bb]}
    case "$v" in
        "") echo "" ;;
        *[0-9][Kk]) echo $((${v%?} / 1024)) ;;
        *[0-9][Mm]) echo "${v%?}" ;;
        *[0-9][Gg]) echo $((${v%?} * 1024)) ;;
        *[0-9][Tt]) echo $((${v%?} * 1048576)) ;;
        *[!0-9]*) return 1 ;;
        *) echo "$v" ;;
    esac
}

is_true() { case "$1" in [Tt]rue|[Yy]es|1|on) return 0 ;; *) return 1 ;; esac; }

# ------------------------------------------------------------------------------------------ batch system
batch_job_id() {
    local id=${SLURM_JOB_ID:-${PBS_JOBID:-${LSB_JOBID:-${FLUX_JOB_ID:-${JOB_ID:-${LUMBERJACK_LOCAL_JOB_ID:-}}}}}}
    [ -n "$id" ] || id="pid$$"
    printf '%s' "${id%%.*}"
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

# Seconds since the epoch at which the batch system ends the job (scheduler_walltime_end), else the start plus
# GLIDEIN_WALLTIME, else a day from the start.
walltime_end() {
    local end="" started=$1 told
    told=$(scheduler_walltime_end "$started")
    [ -z "$told" ] || end=${told%% *}
    case "$end" in *[!0-9]*) end="" ;; esac
    if [ -z "$end" ] && [ "$GLIDEIN_WALLTIME" -gt 0 ]; then
        end=$((started + GLIDEIN_WALLTIME))
    fi
    [ -n "$end" ] || end=$((started + 86400))
    printf '%s' "$end"
}

node_count() {
    local n=1
    if [ -n "${SLURM_JOB_NUM_NODES:-}" ]; then
        n=$SLURM_JOB_NUM_NODES
    elif [ -n "${PBS_NODEFILE:-}" ] && [ -r "$PBS_NODEFILE" ]; then
        n=$(sort -u "$PBS_NODEFILE" | wc -l)
    elif [ -n "${LSB_HOSTS:-}" ]; then
        # shellcheck disable=SC2086
        n=$(printf '%s\n' $LSB_HOSTS | sort -u | wc -l)
    elif [ -n "${FLUX_JOB_NNODES:-}" ]; then
        n=$FLUX_JOB_NNODES
    fi
    printf '%s' "$n"
}

# The command that runs one copy of "$@" on every node of the allocation.
launcher() {
    local nodes=$1 kind=$GLIDEIN_LAUNCHER
    shift
    if [ "$kind" = auto ]; then
        if [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null 2>&1; then kind=srun
        elif [ -n "${PBS_NODEFILE:-}" ] && command -v pbsdsh >/dev/null 2>&1 && [ "$nodes" -gt 1 ]; then kind=pbsdsh
        elif [ "$nodes" -gt 1 ] && command -v mpiexec >/dev/null 2>&1; then kind=mpiexec
        else kind=none
        fi
    fi
    case "$kind" in
        srun) LAUNCH=(srun --nodes="$nodes" --ntasks="$nodes" --ntasks-per-node=1 --kill-on-bad-exit=0 "$@") ;;
        pbsdsh) LAUNCH=(pbsdsh -u "$@") ;;
        mpiexec) LAUNCH=(mpiexec -n "$nodes" -ppn 1 "$@") ;;
        none) LAUNCH=("$@") ;;
        *) die "unknown launcher $kind (auto, srun, mpiexec, pbsdsh or none)" ;;
    esac
}

node_index() {
    printf '%s' "${SLURM_NODEID:-${PBS_NODENUM:-${PMI_RANK:-${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${FLUX_TASK_RANK:-0}}}}}}"
}

# "4(x2),2" -> the count for node number $2
slurm_per_node() {
    local spec=$1 want=$2 i=0 item count times
    local IFS=,
    for item in $spec; do
        count=${item%%(*}
        times=1
        case "$item" in *'(x'*) times=${item##*(x}; times=${times%)} ;; esac
        if [ "$want" -lt $((i + times)) ]; then printf '%s' "$count"; return; fi
        i=$((i + times))
    done
}

granted_cpus() {
    local n=""
    if [ -n "${SLURM_JOB_CPUS_PER_NODE:-}" ]; then
        n=$(slurm_per_node "$SLURM_JOB_CPUS_PER_NODE" "$(node_index)")
    fi
    [ -n "$n" ] || n=${NCPUS:-${PBS_NUM_PPN:-${NSLOTS:-}}}
    if [ -z "$n" ] && [ -n "${LSB_MCPU_HOSTS:-}" ]; then
        local host h c
        host=$(hostname)
        # shellcheck disable=SC2086
        set -- $LSB_MCPU_HOSTS
        while [ $# -ge 2 ]; do h=$1 c=$2; shift 2; [ "${h%%.*}" = "${host%%.*}" ] && { n=$c; break; }; done
    fi
    [ -n "$n" ] || n=${GLIDEIN_CPUS:-}
    [ -n "$n" ] || n=$(nproc 2>/dev/null || echo 1)
    printf '%s' "$n"
}

granted_memory_mb() {
    local cpus=$1 m=""
    if [ -n "${SLURM_MEM_PER_NODE:-}" ]; then
        m=$SLURM_MEM_PER_NODE
    elif [ -n "${SLURM_MEM_PER_CPU:-}" ]; then
        m=$((SLURM_MEM_PER_CPU * cpus))
    fi
    [ -n "$m" ] || m=${GLIDEIN_MEMORY_MB:-}
    if [ -z "$m" ]; then
        # nothing granted explicitly: this allocation's share of the node
        local total all
        total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
        all=$(nproc --all 2>/dev/null || echo "$cpus")
        m=$((total * cpus / (all > cpus ? all : cpus)))
    fi
    printf '%s' "$m"
}

granted_gpus() {
    local g=""
    if [ -n "${SLURM_GPUS_ON_NODE:-}" ]; then
        g=$SLURM_GPUS_ON_NODE
    elif [ -n "${CUDA_VISIBLE_DEVICES:-}" ] && [ "$CUDA_VISIBLE_DEVICES" != NoDevFiles ]; then
        g=$(printf '%s\n' "$CUDA_VISIBLE_DEVICES" | tr , '\n' | grep -c .)
    fi
    [ -n "$g" ] || g=${GLIDEIN_GPUS:-0}
    printf '%s' "$g"
}

# ------------------------------------------------------------------------------------------ node mode
condor_local() {  # a tool against this node's own daemons: local FS authentication
    _CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS=FS timeout 30 "$@"
}

invalidate() {  # invalidate every ad of this node's daemons in the home collector
    local what=$1 target=$2 file
    file="$NODE_DIR/invalidate-$what-$target.ad"
    # by name, so that the collector's private ads of the slots (which carry no GLIDEIN_* attribute) go too:
    # slot1@NODE@host, slot1_1@NODE@host, NODE@host
    printf 'MyType = "Query"\nTargetType = "%s"\nRequirements = regexp("(^|@)%s@", Name)\n' "$target" "$NODE_ID" >"$file"
    local out
    out=$(timeout 30 condor_advertise -tcp "$what" "$file" 2>&1) || log "condor_advertise $what ($target) failed: $out"
}

still_advertised() {
    local out
    out=$(timeout 30 condor_status -any -constraint "GLIDEIN_NodeId =?= \"$NODE_ID\"" -af Name 2>/dev/null) || return 0
    [ -n "$out" ]
}

node_pids() {  # processes started from this node's configuration (their environment names it); [$1: named so]
    local marker="CONDOR_CONFIG=$NODE_DIR/condor_config" env pid comm
    for env in /proc/[0-9]*/environ; do
        pid=${env#/proc/}
        pid=${pid%/environ}
        if [ "$pid" = "$$" ] || [ ! -O "/proc/$pid" ]; then continue; fi
        if [ -n "${1:-}" ]; then
            comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
            [ "$comm" = "$1" ] || continue
        fi
        { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qxF "$marker" && printf '%s\n' "$pid"
    done
}

SHUTTING_DOWN=""
node_shutdown() {
    [ -z "$SHUTTING_DOWN" ] || return 0
    SHUTTING_DOWN=1
    trap '' TERM INT
    log "leaving the pool ($1)"
    local pid waited=0 starters=""
    # the starters first (SIGQUIT: their fast shutdown, as the startd's own): each kills its job (which ignores
    # SIGTERM, see write_job_wrapper) and reports it evicted to the job's shadow, so it goes back to idle at home
    for pid in $(node_pids condor_starter); do
        kill -QUIT "$pid" 2>/dev/null && starters="$starters $pid"
    done
    [ -z "$starters" ] || log "asked the starters to vacate their jobs:$starters"
    if [ -n "${MASTER_PID:-}" ] && kill -0 "$MASTER_PID" 2>/dev/null; then
        # fast shutdown of the master and its startd
        kill -QUIT "$MASTER_PID" 2>/dev/null
        while kill -0 "$MASTER_PID" 2>/dev/null && [ "$waited" -lt "$GLIDEIN_SHUTDOWN_WAIT" ]; do
            sleep 1
            waited=$((waited + 1))
        done
        if kill -0 "$MASTER_PID" 2>/dev/null; then
            log "condor_master $MASTER_PID still runs after ${GLIDEIN_SHUTDOWN_WAIT}s: killing it"
            kill -KILL "$MASTER_PID" 2>/dev/null
        fi
    fi
    # a starter still reporting to its shadow gets the rest of the wait; then whatever of this node's HTCondor
    # is left (a startd whose master died) goes too
    while [ -n "$(node_pids condor_starter)" ] && [ "$waited" -lt "$GLIDEIN_SHUTDOWN_WAIT" ]; do
        sleep 1
        waited=$((waited + 1))
    done
    local left=""
    for pid in $(node_pids); do
        kill -KILL "$pid" 2>/dev/null && left="$left $pid"
    done
    [ -z "$left" ] || log "killed what was left of this node's HTCondor:$left"
    if still_advertised; then
        log "invalidating the ads of $NODE_ID in the collector"
        invalidate INVALIDATE_STARTD_ADS Machine
        invalidate INVALIDATE_STARTD_ADS StartD
        invalidate INVALIDATE_MASTER_ADS DaemonMaster
    fi
}

write_node_config() {
    local cpus=$1 memory=$2 gpus=$3 resources gpu_feature=""
    resources="cpus=$cpus, memory=$memory"
    if [ "$gpus" -gt 0 ]; then
        resources="$resources, gpus=$gpus"
        gpu_feature="use feature : GPUs"
    fi
    cat >"$NODE_DIR/condor_config" <<EOF
# node $NODE_INDEX of glidein pilot $PILOT_ID (written by glidein-pilot.sh)
include : $GLIDEIN_CONFIG_DIR/condor_config
LOCAL_DIR = $NODE_DIR
LOCAL_CONFIG_FILE =
LOCAL_CONFIG_DIR =
REQUIRE_LOCAL_CONFIG_FILE = False
LOG = \$(LOCAL_DIR)/log
SPOOL = \$(LOCAL_DIR)/spool
LOCK = \$(LOCAL_DIR)/lock
RUN = \$(LOCAL_DIR)/run
EXECUTE = $EXECUTE_DIR
SEC_TOKEN_SYSTEM_DIRECTORY = \$(LOCAL_DIR)/tokens.d
SEC_TOKEN_DIRECTORY = \$(LOCAL_DIR)/tokens.d
SEC_PASSWORD_DIRECTORY = \$(LOCAL_DIR)/passwords.d
SEC_PASSWORD_FILE = \$(LOCAL_DIR)/passwords.d/POOL
MASTER_NAME = $NODE_ID
STARTD_NAME = $NODE_ID
NUM_CPUS = $cpus
MEMORY = $memory
NUM_SLOTS = 1
NUM_SLOTS_TYPE_1 = 1
SLOT_TYPE_1 = $resources
SLOT_TYPE_1_PARTITIONABLE = True
$gpu_feature
GLIDEIN_Site = "$GLIDEIN_SITE"
GLIDEIN_Name = "$GLIDEIN_NAME"
GLIDEIN_PilotId = "$PILOT_ID"
GLIDEIN_NodeId = "$NODE_ID"
GLIDEIN_Node = $NODE_INDEX
GLIDEIN_BatchJobId = "$BATCH_JOB_ID"
GLIDEIN_Scheduler = "${GLIDEIN_SCHEDULER:-unknown}"
GLIDEIN_ToDie = $TODIE
GLIDEIN_ATTRS = GLIDEIN_Site GLIDEIN_Name GLIDEIN_PilotId GLIDEIN_NodeId GLIDEIN_Node GLIDEIN_BatchJobId GLIDEIN_Scheduler GLIDEIN_ToDie
STARTD_ATTRS = \$(STARTD_ATTRS) \$(GLIDEIN_ATTRS)
MASTER_ATTRS = \$(MASTER_ATTRS) \$(GLIDEIN_ATTRS)
EOF
    write_job_wrapper "$NODE_DIR/job-wrapper"
    # the ProcD (which tracks the processes of every daemon and job) has no handler for SIGTERM: a scheduler's
    # cancel would kill it at once, and the startd, losing it, dies before its starters are done. It is started
    # with SIGTERM ignored; it still leaves with its master (it watches a pipe to it).
    local procd
    procd=$(command -v condor_procd 2>/dev/null)
    if [ -n "$procd" ]; then
        {
            echo '#!/bin/bash'
            echo '# the ProcD of a glidein node, with SIGTERM ignored (written by glidein-pilot.sh)'
            echo "trap '' TERM"
            printf "exec %q \"\$@\"\n" "$procd"
        } >"$NODE_DIR/procd"
        chmod 0755 "$NODE_DIR/procd"
        echo "PROCD = \$(LOCAL_DIR)/procd" >>"$NODE_DIR/condor_config"
    fi
}

# The USER_JOB_WRAPPER of the node (the role's condor_config names it): the job runs with SIGTERM ignored.
# A scheduler's cancel (scancel, qdel, bkill) sends SIGTERM to every process of the batch job at once, the jobs'
# own processes too; a job that died of it before its starter began to shut down would be reported to the
# home schedd as having exited by signal 15 (completed) instead of evicted. Ignoring SIGTERM leaves the job to
# its starter, which kills it with SIGKILL when the pilot shuts the node down fast (or at the end of
# MachineMaxVacateTime): an eviction, so the job goes back to idle at home. Ignored signals stay ignored across
# exec, so the job's own children inherit it (unless they install a handler of their own).
write_job_wrapper() {
    cat >"$1" <<'EOF'
#!/bin/bash
# USER_JOB_WRAPPER of a glidein node (written by glidein-pilot.sh): runs the job with SIGTERM ignored
trap '' TERM
shopt -s execfail
exec "$@"
echo "glidein job wrapper: cannot execute $1" >"${_CONDOR_WRAPPER_ERROR_FILE:-/dev/stderr}"
exit 1
EOF
    chmod 0755 "$1"
}

run_node() {
    local env_file=$1
    PILOT_DIR=$2 PILOT_ID=$3 TODIE=$4
    GLIDEIN_ROLE_OF_PROCESS=node
    load_env "$env_file"
    BATCH_JOB_ID=$(batch_job_id)
    NODE_INDEX=$(node_index)
    NODE_ID="$PILOT_ID-n$NODE_INDEX"
    NODE_DIR="$PILOT_DIR/node$NODE_INDEX"
    mkdir -m 0700 "$NODE_DIR" || die "cannot create $NODE_DIR (it must not exist: a pilot directory is never reused)"
    local d
    for d in log spool lock run tokens.d passwords.d; do
        mkdir -m 0700 "$NODE_DIR/$d" || die "cannot create $NODE_DIR/$d"
    done
    if [ -n "${GLIDEIN_EXECUTE_BASE:-}" ]; then
        EXECUTE_DIR="$GLIDEIN_EXECUTE_BASE/$NODE_ID"
    else
        EXECUTE_DIR="$NODE_DIR/execute"
    fi
    { mkdir -p "$EXECUTE_DIR" && chmod 0755 "$EXECUTE_DIR"; } || die "cannot create the execute directory $EXECUTE_DIR"
    if [ -r "$GLIDEIN_CONFIG_DIR/idtoken" ]; then
        install -m 0600 "$GLIDEIN_CONFIG_DIR/idtoken" "$NODE_DIR/tokens.d/glidein" || die "cannot copy the IDTOKEN"
    fi
    if [ -r "$GLIDEIN_CONFIG_DIR/pool_password.b64" ]; then
        base64 -d "$GLIDEIN_CONFIG_DIR/pool_password.b64" >"$NODE_DIR/passwords.d/POOL" \
            || die "$GLIDEIN_CONFIG_DIR/pool_password.b64 is not base64: give glidein_pool_password base64-encoded"
        chmod 0600 "$NODE_DIR/passwords.d/POOL"
    fi
    local cpus memory gpus
    cpus=$(granted_cpus)
    memory=$(granted_memory_mb "$cpus")
    gpus=$(granted_gpus)
    write_node_config "$cpus" "$memory" "$gpus"
    CONDOR_CONFIG="$NODE_DIR/condor_config"
    export CONDOR_CONFIG
    unset "${!_CONDOR_@}" 2>/dev/null || true
    log "node $NODE_ID on $(hostname): $cpus cores, $memory MB, $gpus GPUs, until $(date -u -d "@$TODIE" +%H:%M:%SZ)"

    trap 'node_shutdown "signal TERM"; exit 143' TERM
    trap 'node_shutdown "signal INT"; exit 130' INT
    trap 'node_shutdown exit' EXIT
    condor_master -f >>"$NODE_DIR/log/master.stdout" 2>&1 &
    MASTER_PID=$!
    local drained="" now
    while kill -0 "$MASTER_PID" 2>/dev/null; do
        if [ -e "$PILOT_DIR/stop" ]; then
            log "asked to stop ($PILOT_DIR/stop)"
            break
        fi
        now=$(date +%s)
        if [ "$now" -ge $((TODIE - GLIDEIN_KILL_MARGIN)) ]; then
            log "the walltime ends at $TODIE: shutting down"
            break
        fi
        if [ -z "$drained" ] && [ "$now" -ge $((TODIE - GLIDEIN_DRAIN_MARGIN)) ]; then
            log "draining: no new jobs from now on"
            condor_local condor_off -peaceful -startd >/dev/null 2>&1 || log "condor_off -peaceful -startd failed"
            drained=1
        fi
        sleep "$GLIDEIN_POLL_INTERVAL" &
        wait $! 2>/dev/null
    done
    node_shutdown "end"
    trap - EXIT
    return 0
}

# ------------------------------------------------------------------------------------------ batch mode
CHILD_PID=""
BATCH_DONE=""
batch_cleanup() {
    [ -z "$BATCH_DONE" ] || return 0
    BATCH_DONE=1
    trap '' TERM INT
    if [ -n "$CHILD_PID" ] && kill -0 "$CHILD_PID" 2>/dev/null; then
        kill -TERM "$CHILD_PID" 2>/dev/null
        local waited=0
        while kill -0 "$CHILD_PID" 2>/dev/null && [ "$waited" -lt $((GLIDEIN_SHUTDOWN_WAIT + 20)) ]; do
            sleep 1
            waited=$((waited + 1))
        done
    fi
    [ -n "${PILOT_DIR:-}" ] && [ -d "$PILOT_DIR" ] || return 0
    if is_true "$GLIDEIN_KEEP_LOGS"; then
        mkdir -p "$GLIDEIN_LOG_DIR"
        local tmp="$GLIDEIN_LOG_DIR/.$PILOT_ID.tar.gz.tmp"
        if (cd "$PILOT_DIR" && find . -path './node*/log/*' -type f -print0 | tar -czf "$tmp" --null -T -) 2>/dev/null; then
            mv -f "$tmp" "$GLIDEIN_LOG_DIR/$PILOT_ID.tar.gz"
        else
            rm -f "$tmp"
            log "could not keep the logs of $PILOT_DIR"
        fi
    fi
    if [ -n "${GLIDEIN_EXECUTE_BASE:-}" ]; then
        rm -rf "$GLIDEIN_EXECUTE_BASE/$PILOT_ID"-n* 2>/dev/null
    fi
    rm -rf "$PILOT_DIR" 2>/dev/null
    [ -d "$PILOT_DIR" ] && log "could not remove $PILOT_DIR completely"
    return 0
}

run_batch() {
    load_env "${GLIDEIN_ENV_FILE:-}"
    local started todie nodes suffix
    started=$(date +%s)
    BATCH_JOB_ID=$(batch_job_id)
    todie=$(walltime_end "$started")
    nodes=$(node_count)
    suffix=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
    PILOT_ID="$GLIDEIN_NAME-$BATCH_JOB_ID-$suffix"
    PILOT_DIR="$GLIDEIN_BASE_DIR/$PILOT_ID"
    mkdir -p "$GLIDEIN_BASE_DIR" || die "cannot create $GLIDEIN_BASE_DIR"
    mkdir -m 0700 "$PILOT_DIR" || die "cannot create $PILOT_DIR (it must not exist: a pilot directory is never reused)"
    trap 'batch_cleanup; exit 143' TERM
    trap 'batch_cleanup; exit 130' INT
    trap 'batch_cleanup' EXIT
    log "pilot $PILOT_ID: batch job $BATCH_JOB_ID, $nodes node(s), walltime ends $(date -u -d "@$todie" +%H:%M:%SZ)"
    [ "$((todie - GLIDEIN_KILL_MARGIN))" -gt "$(date +%s)" ] || die "the walltime ends within the kill margin: nothing to run"
    launcher "$nodes" "$(command -v bash)" "$0" node "$GLIDEIN_ENV_FILE" "$PILOT_DIR" "$PILOT_ID" "$todie"
    "${LAUNCH[@]}" &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    log "pilot $PILOT_ID ended (rc=$rc)"
    return "$rc"
}

# sourced (by the unit tests of these functions): define them, run nothing
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    return 0
fi
if [ "${1:-}" = node ]; then
    [ $# -eq 5 ] || die "usage: $0 node ENV_FILE PILOT_DIR PILOT_ID TODIE"
    run_node "$2" "$3" "$4" "$5"
else
    run_batch
fi
