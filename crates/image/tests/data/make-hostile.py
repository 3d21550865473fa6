#!/usr/bin/env python3
"""Writes the hostile-input corpus for layer and archive tests into hostile/.

Each layer is a tar (some gzipped) that tries to write outside the directory
it is applied into, or is broken. The files are kept in the repository as
test data; run this script again to regenerate them (output is stable).
"""
import gzip
import io
import os
import tarfile

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostile")


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m in members:
            kind, name = m[0], m[1]
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.uid = info.gid = 0
            data = b""
            if kind == "file":
                data = m[2] if len(m) > 2 else b"pwned\n"
                info.size = len(data)
                info.mode = 0o644
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = m[2]
                info.mode = 0o777
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = m[2]
            t.addfile(info, io.BytesIO(data) if kind == "file" else None)
    return buf.getvalue()


CASES = {
    # name: (members, gzip?)
    "dotdot.tar": ([("file", "../escaped")], False),
    "dotdot-nested.tar": ([("dir", "a"), ("file", "a/../../escaped")], False),
    "absolute.tar": ([("file", "/etc/absolute-file", b"confined\n")], False),
    "symlink-relative-escape.tar": ([("symlink", "evil", "../../../../../../tmp"), ("file", "evil/pwned")], False),
    "symlink-absolute.tar": ([("symlink", "abs", "/"), ("dir", "etc"), ("file", "abs/etc/through-abs", b"confined\n")], False),
    "hardlink-dotdot.tar": ([("hardlink", "h", "../../../../etc/passwd")], False),
    "hardlink-absolute-missing.tar": ([("hardlink", "h", "/etc/shadow")], False),
    "hardlink-through-symlink.tar": ([("symlink", "s", "../../../.."), ("hardlink", "h", "s/etc/passwd")], False),
    "symlink-loop.tar": ([("symlink", "a", "b"), ("symlink", "b", "a"), ("file", "a/x")], False),
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, (members, gz) in CASES.items():
        data = tar_bytes(members)
        if gz:
            data = gzip.compress(data, mtime=0)
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    # A gzip stream cut in the middle of the tar.
    whole = gzip.compress(tar_bytes([("file", "big", os.urandom(0) + b"x" * 200000)]), mtime=0)
    with open(os.path.join(HERE, "truncated.tar.gz"), "wb") as f:
        f.write(whole[: len(whole) // 2])


if __name__ == "__main__":
    main()
