#!/bin/bash
c() { # label ns url
  r=$(ip netns exec $2 curl -s --max-time 1.5 "$3" 2>&1 || echo FAIL); printf '%-44s %s\n' "$1" "$r"; }
c "a2 -> a1 direct (same bridge)"          bnd-a2 http://10.99.0.2/
c "a1 -> x (outbound, needs masquerade)"   bnd-a1 http://198.51.100.2/
c "b1 -> a1 (other network: must FAIL)"    bnd-b1 http://10.99.0.2/
c "x -> host:8080 (published, external)"   bnd-x  http://198.51.100.1:8080/
c "host 127.0.0.1:8080 (localhost)"        bnd-h  http://127.0.0.1:8080/
c "host 198.51.100.1:8080 (own address)"   bnd-h  http://198.51.100.1:8080/
c "host 127.0.0.1:8081 (-p 127.0.0.1:8081)" bnd-h  http://127.0.0.1:8081/
c "x -> 198.51.100.1:8081 (loopback-only: FAIL)" bnd-x http://198.51.100.1:8081/
c "a2 -> host:8080 (hairpin)"              bnd-a2 http://198.51.100.1:8080/
c "a1 -> host:8080 (own port hairpin)"     bnd-a1 http://198.51.100.1:8080/
c "a2 -> 10.99.0.1:8080 (gateway addr)"    bnd-a2 http://10.99.0.1:8080/
c "b1 -> host:8080 (other net via pub port)" bnd-b1 http://198.51.100.1:8080/
printf '%-44s %s\n' "x -> host:5353/udp" "$(ip netns exec bnd-x python3 /tmp/nd/udpc.py 198.51.100.1 5353)"
printf '%-44s %s\n' "host 127.0.0.1:5353/udp" "$(ip netns exec bnd-h python3 /tmp/nd/udpc.py 127.0.0.1 5353)"
