import socket, subprocess, sys
# inside the container netns: a listener on 127.0.0.11:<random>, DNAT 127.0.0.11:53 -> it
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.11", 0)); up = u.getsockname()[1]
t = socket.socket(); t.bind(("127.0.0.11", 0)); t.listen(); tp = t.getsockname()[1]
rules = f"""table ip berth-dns {{
 chain out {{ type nat hook output priority -100; policy accept;
  ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:{up}
  ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:{tp}
 }}
}}"""
subprocess.run(["nft", "-f", "-"], input=rules.encode(), check=True)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(1); c.sendto(b"q", ("127.0.0.11", 53))
d, a = u.recvfrom(10); u.sendto(b"udp-answer", a)
print("udp reply", c.recvfrom(20))
tc = socket.create_connection(("127.0.0.11", 53), timeout=1); s, _ = t.accept(); s.sendall(b"tcp-answer"); print("tcp reply", tc.recv(20), tc.getpeername())
# a container process binding 0.0.0.0:53 is not disturbed
x = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); x.bind(("0.0.0.0", 53)); print("0.0.0.0:53 bind by the app: ok")
