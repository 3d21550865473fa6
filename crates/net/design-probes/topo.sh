#!/bin/bash
# Scratch topology: every object lives in netns named bnd-*; `down` removes all.
set -e
H="ip netns exec bnd-h"
down() {
  for n in bnd-h bnd-x bnd-a1 bnd-a2 bnd-b1; do
    [ -e /run/netns/$n ] && { ip netns pids $n 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del $n; }
  done
  true
}
up() {
  for n in bnd-h bnd-x bnd-a1 bnd-a2 bnd-b1; do ip netns add $n; ip -n $n link set lo up; done
  $H sysctl -qw net.ipv4.ip_forward=1
  ip -n bnd-h link add brA type bridge; ip -n bnd-h addr add 10.99.0.1/24 dev brA; ip -n bnd-h link set brA up
  ip -n bnd-h link add brB type bridge; ip -n bnd-h addr add 10.98.0.1/24 dev brB; ip -n bnd-h link set brB up
  ip -n bnd-h link add uh type veth peer name ux netns bnd-x
  ip -n bnd-h addr add 198.51.100.1/24 dev uh; ip -n bnd-h link set uh up
  ip -n bnd-x addr add 198.51.100.2/24 dev ux; ip -n bnd-x link set ux up
  add() { # ns bridge ip gw
    ip -n bnd-h link add v-$1 master $2 up type veth peer name eth0 netns bnd-$1
    ip -n bnd-$1 addr add $3/24 dev eth0; ip -n bnd-$1 link set eth0 up; ip -n bnd-$1 route add default via $4
  }
  add a1 brA 10.99.0.2 10.99.0.1
  add a2 brA 10.99.0.3 10.99.0.1
  add b1 brB 10.98.0.2 10.98.0.1
  ip netns exec bnd-a1 busybox httpd -p 80 -h /tmp/nd/www/a1
  ip netns exec bnd-b1 busybox httpd -p 80 -h /tmp/nd/www/b1
  ip netns exec bnd-x busybox httpd -p 80 -h /tmp/nd/www/x
  # UDP echo-ish server in a1: answers one datagram per connection
  (ip netns exec bnd-a1 busybox nc -u -l -p 53 -e /bin/echo udp-ok-from-a1 &) 
}
"$@"
