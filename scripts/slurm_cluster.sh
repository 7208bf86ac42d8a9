#!/usr/bin/env bash
# A one-node Slurm cluster for the tests: munged (its own key and socket), slurmctld and slurmd on this machine,
# configured by a generated slurm.conf in DIR, on free ports, every daemon started and stopped by its pid.
#
#   scripts/slurm_cluster.sh start DIR   prints SLURM_CONF=DIR/slurm.conf once sbatch is accepted (exit 0), or
#                                        one line naming what is missing (exit 77: the caller skips)
#   scripts/slurm_cluster.sh stop DIR    stops the daemons by the pids in DIR
#
# Needs root (SlurmUser=root) and Debian's slurm-wlm and munge. DIR must be readable by the munge user.
set -euo pipefail
command="${1:-}"
dir="${2:-}"
if [ -z "$command" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

stop() {
    for name in slurmd slurmctld munged; do
        pidfile="$dir/$name.pid"
        [ -f "$pidfile" ] || continue
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
}

if [ "$command" = stop ]; then stop; exit 0; fi
if [ "$command" != start ]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi

# The daemons outlive this script: they must not inherit the caller's descriptors (a process watching a pipe
# or socket for this script's end would wait for the daemons). Bash's own script descriptor (255) stays.
for fd in $(ls /proc/$$/fd); do
    if [ "$fd" -gt 2 ] && [ "$fd" != 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

missing=()
for tool in munged slurmctld slurmd sbatch squeue scancel python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then echo "missing: ${missing[*]} (Debian: slurm-wlm munge)"; exit 77; fi
if [ "$(id -u)" != 0 ]; then echo "missing: root (the test cluster runs with SlurmUser=root)"; exit 77; fi
if ! id munge >/dev/null 2>&1; then echo "missing: the munge user (Debian: munge)"; exit 77; fi

ports="$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
read -r ctld_port slurmd_port <<<"$ports"
node="$(hostname -s)"
cpus="$(nproc)"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
chmod 0755 "$dir"
chown munge:munge "$dir/munge"
chmod 0700 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$dir/munge/munge.key"
chmod 0400 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"

# munged as the munge user: it refuses a key or socket folder others could write to.
runuser -u munge -- munged --socket="$socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
    --force </dev/null >/dev/null 2>&1
for _ in $(seq 50); do [ -S "$socket" ] && [ -s "$dir/munge/munged.pid" ] && break; sleep 0.1; done
cp "$dir/munge/munged.pid" "$dir/munged.pid"

cat >"$dir/slurm.conf" <<CONF
ClusterName=pipetest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
KillWait=2
OverTimeLimit=0
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
# The daemons get no stdio of the caller's: a caller reading this script's output until EOF must not wait on them.
slurmctld -c -f "$SLURM_CONF" </dev/null >/dev/null 2>&1
slurmd -f "$SLURM_CONF" -N "$node" </dev/null >/dev/null 2>&1
for _ in $(seq 150); do
    if sbatch --test-only --wrap true >/dev/null 2>&1 && sinfo -h -o %T 2>/dev/null | grep -qE '^idle'; then
        echo "SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "the Slurm cluster in $dir did not accept jobs within 30 s (see $dir/slurmctld.log, $dir/slurmd.log)" >&2
stop
exit 1
