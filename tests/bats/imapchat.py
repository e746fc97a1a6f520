"""imapchat.py: IMAP sessions with libexec/imapd in preauth mode (-P) for
tests/bats/imap.bats.  Imported by the python blocks of that file:

    s = Session()                  # starts "$IMAPD -P -c $IMAP_CONF"
    r = s.cmd('SELECT INBOX')      # sends "Tn SELECT INBOX", returns every
                                   # line up to the tagged reply (str, CRLF
                                   # removed; a literal's bytes are kept
                                   # inside its line)
    s.ok(r) / s.tagged(r)          # the tagged reply's status / the line
    s.send(b'raw bytes')           # writes as is (no tag, no CRLF)
    s.read_until(tag)              # lines until tag's reply

The environment gives IMAPD, IMAP_CONF, POSTHORN_USER, POSTHORN_MAILDIR.
"""
import os
import re
import subprocess

LIT = re.compile(rb"\{(\d+)\}\r\n$")


class Session:
    def __init__(self):
        argv = [os.environ["IMAPD"], "-P", "-c", os.environ["IMAP_CONF"]]
        # stderr (log lines, sanitizer reports) goes to $IMAP_STDERR
        self.err = open(os.environ.get("IMAP_STDERR", os.devnull), "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err)
        self.greeting = self.readline()
        self.n = 0

    def readline(self):
        line = self.p.stdout.readline()
        while True:
            m = LIT.search(line)
            if not m:
                break
            line += self.p.stdout.read(int(m.group(1)))
            line += self.p.stdout.readline()
        return line.decode("latin-1").rstrip("\r\n") if line else None

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def read_until(self, tag):
        lines = []
        while True:
            line = self.readline()
            if line is None:
                return lines
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def cmd(self, text, literal=None):
        """text may contain one literal placeholder: literal bytes are sent
        after the "+" continuation for {n}, at once for {n+}."""
        self.n += 1
        tag = "T%d" % self.n
        if literal is None:
            self.send((tag + " " + text + "\r\n").encode())
            return self.read_until(tag)
        head, _, tail = text.partition("%L")
        plus = "+" if head.endswith("+") else ""
        head = head[:-1] if plus else head
        self.send(("%s %s{%d%s}\r\n" % (tag, head, len(literal), plus)).encode())
        first = []
        if not plus:
            cont = self.readline()
            first.append(cont)
            if not cont.startswith("+"):
                return first + self.read_until(tag)
        self.send(literal + (tail + "\r\n").encode())
        return first + self.read_until(tag)

    @staticmethod
    def tagged(lines):
        return lines[-1] if lines else ""

    def ok(self, lines):
        return self.tagged(lines).split(" ")[1] if lines else None

    def close(self):
        """LOGOUT; the process must then exit 0 (a sanitizer report or a
        leak would make it fail)."""
        r = self.cmd("LOGOUT")
        assert r and r[-1].split(" ")[1] == "OK", r
        assert self.p.wait(10) == 0, "imapd exit status %d" % self.p.returncode
        self.err.close()
