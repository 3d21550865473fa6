"""Where a process's anonymous resident memory is, from /proc/PID/smaps, as
"key kib" lines for bench/soak/run.sh:

  anon_heap_kib    malloc's arenas: the main one ([heap], brk) and the others
                   (glibc maps each in a 64 MiB-aligned reservation)
  anon_stacks_kib  thread stacks: [stack] and the anonymous 2 MiB mappings
                   (Rust's and tokio's default stack; glibc keeps the stacks of
                   exited threads mapped, in its cache, for the next thread)
  anon_stacks_n    how many such stacks are mapped (live threads + cached)
  anon_other_kib   every other anonymous resident page

Usage: python3 anon.py PID [PREFIX]   (PREFIX is put before every key)
"""
import re
import sys

HEAP_ALIGN = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit
STACK = 2 << 20
head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")


def main():
    pid = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else ""
    sums = {"heap": 0, "stacks": 0, "other": 0}
    stacks = 0
    kind = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = head.match(line)
            if m:
                start, end = int(m.group(1), 16), int(m.group(2), 16)
                perms, path = m.group(3), m.group(4).strip()
                if path == "[heap]":
                    kind = "heap"
                elif path == "[stack]":
                    kind = "stacks"
                    stacks += 1
                elif path == "" and perms == "rw-p":
                    if start % HEAP_ALIGN == 0:
                        kind = "heap"
                    elif end - start == STACK:
                        kind = "stacks"
                        stacks += 1
                    else:
                        kind = "other"
                else:
                    kind = None  # file-backed, or no access (guard pages)
                continue
            if kind and line.startswith("Rss:"):
                sums[kind] += int(line.split()[1])
    for k in ("heap", "stacks", "other"):
        print(f"{prefix}anon_{k}_kib {sums[k]}")
    print(f"{prefix}anon_stacks_n {stacks}")


if __name__ == "__main__":
    main()
