# shellcheck shell=bash
# Sourced by the benchmarks' run.sh: before a measured case, wait for a quiet
# machine. Needs SETTLE_MAX (seconds at most) and LOADS (the file that records
# each wait, printed in the results).
cpu_pressure() { awk '/^some/ { sub("avg10=", "", $2); print $2 }' /proc/pressure/cpu 2>/dev/null || echo 0; }
settle() { # label: wait for a quiet machine (SETTLE_MAX), and note the wait
    local i
    for ((i = 0; i < SETTLE_MAX; i++)); do
        awk -v p="$(cpu_pressure)" 'BEGIN { exit !(p < 5) }' && break
        sleep 1
    done
    echo "before $1: waited ${i} s to settle; cpu pressure avg10 $(cpu_pressure) %, load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOADS"
}
