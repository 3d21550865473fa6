# shellcheck shell=bash
# Sourced after proc.sh by the benchmarks that run berth next to a private
# dockerd: stopping them, whatever state they are in. Needs log, BERTH_PID,
# DOCKERD_PID, CONTAINERD_PID, DOCKER_DIR (dockerd's data root) and RUN (its
# exec roots below $RUN/docker).
stop_berth() {
    alive "$BERTH_PID" || { BERTH_PID=; return 0; }
    kill -TERM "$BERTH_PID" 2>/dev/null || true
    wait_gone "$BERTH_PID" 10 || { log "berth daemon $BERTH_PID ignored SIGTERM for 10 s: SIGKILL"; kill -KILL "$BERTH_PID" 2>/dev/null || true; wait_gone "$BERTH_PID" 5 || true; }
    BERTH_PID=
}

stop_dockerd() {
    [ -n "$DOCKERD_PID" ] || return 0
    local pgid pid
    pgid=$(ps -o pgid= -p "$DOCKERD_PID" 2>/dev/null | tr -d ' ' || true)
    if alive "$DOCKERD_PID"; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        wait_gone "$DOCKERD_PID" 20 || log "dockerd ignored SIGTERM for 20 s: killing its process group"
    fi
    # setsid made dockerd a group leader: whatever is left in its group.
    [ -n "$pgid" ] && [ "$pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
    # Its containerd runs in a process group of its own: by its pid.
    if alive "$CONTAINERD_PID"; then
        kill -TERM "$CONTAINERD_PID" 2>/dev/null || true
        wait_gone "$CONTAINERD_PID" 10 || kill -KILL "$CONTAINERD_PID" 2>/dev/null || true
    fi
    for pid in $(procs_under "$DOCKER_DIR") $(procs_under "$RUN/docker"); do kill -KILL "$pid" 2>/dev/null || true; done
    DOCKERD_PID=
    CONTAINERD_PID=
}
