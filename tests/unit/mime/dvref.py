#!/usr/bin/env python3
"""dvref.py FILE.eml... : APPEND each message (LF -> CRLF) to the reference
Dovecot, FETCH BODYSTRUCTURE, BODY, ENVELOPE and many sections, and write
FILE.out (records "=LEN ITEM\\n" + LEN bytes + "\\n")."""
import os, socket, sys, re

# the reference Dovecot's IMAP port (../shared/anchors/dovecot-start.sh
# takes IMAP_PORT too; users tester1/testpass)
PORT = int(os.environ.get('IMAP_PORT', '10143'))

class Conn:
    def __init__(self):
        self.s = socket.create_connection(('127.0.0.1', PORT))
        self.buf = b''
        self.n = 0
        self.line()
        self.cmd(b'LOGIN tester1 testpass')
        self.cmd(b'SELECT INBOX')
    def fill(self):
        d = self.s.recv(65536)
        if not d: raise EOFError
        self.buf += d
    def line(self):
        while b'\r\n' not in self.buf: self.fill()
        l, self.buf = self.buf.split(b'\r\n', 1)
        return l
    def read(self, n):
        while len(self.buf) < n: self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d
    def response_line(self):
        # one response line with its literals, raw
        out = b''
        while True:
            l = self.line()
            out += l
            m = re.search(rb'\{(\d+)\}$', l)
            if not m: return out
            out += b'\r\n' + self.read(int(m.group(1)))
    def cmd(self, c, literal=None):
        self.n += 1
        tag = b'a%d' % self.n
        if literal is not None:
            self.s.sendall(tag + b' ' + c + b' {%d}\r\n' % len(literal))
            l = self.line()
            assert l.startswith(b'+'), l
            self.s.sendall(literal + b'\r\n')
        else:
            self.s.sendall(tag + b' ' + c + b'\r\n')
        lines = []
        while True:
            l = self.response_line()
            if l.startswith(tag + b' '):
                if not l.startswith(tag + b' OK'): raise Exception(l)
                return lines, l
            lines.append(l)

def parse_value(d, i):
    """returns (value, next index); value: bytes for strings/atoms, None for NIL, list for lists"""
    while d[i:i+1] == b' ': i += 1
    c = d[i:i+1]
    if c == b'(':
        i += 1; out = []
        while True:
            while d[i:i+1] == b' ': i += 1
            if d[i:i+1] == b')': return out, i + 1
            v, i = parse_value(d, i); out.append(v)
    if c == b'"':
        i += 1; s = b''
        while d[i:i+1] != b'"':
            if d[i:i+1] == b'\\': i += 1
            s += d[i:i+1]; i += 1
        return s, i + 1
    if c == b'{':
        j = d.index(b'}', i); n = int(d[i+1:j]); i = j + 3
        return d[i:i+n], i + n
    m = re.compile(rb'[^ ()\[\]]+(\[[^\]]*\](<\d+>)?)?').match(d, i)
    v = m.group(0)
    return (None if v == b'NIL' else v), m.end()

def fetch_items(resp):
    """raw FETCH response -> list of (name, raw value bytes, parsed)"""
    i = resp.index(b'FETCH (') + 7
    items = []
    while resp[i:i+1] != b')':
        while resp[i:i+1] == b' ': i += 1
        m = re.compile(rb'[A-Z0-9.]+(\[[^\]]*\])?(<\d+>)?').match(resp, i)
        name = m.group(0); i = m.end() + 1
        v, j = parse_value(resp, i)
        items.append((name, resp[i:j], v))
        i = j
    return items

def part_paths(bs, prefix, out):
    if isinstance(bs[0], list):   # multipart
        for k, ch in enumerate([x for x in bs if isinstance(x, list)], 1):
            p = prefix + [k]
            out.append(p)
            part_paths(ch, p, out)
    elif bs[0] and bs[0].lower() == b'message' and bs[1] and bs[1].lower() == b'rfc822' and len(bs) > 8:
        inner = bs[8]
        if isinstance(inner[0], list): part_paths(inner, prefix, out)
        else: out.append(prefix + [1])

GENERIC = ['', 'HEADER', 'TEXT', 'HEADER.FIELDS (FROM SUBJECT)', 'HEADER.FIELDS.NOT (FROM CONTENT-TYPE)',
           'HEADER.FIELDS (X-NONE)', '1', '1.MIME', '2', '2.MIME', '9', '1.1.1.1']

def sections_for(paths):
    secs = list(GENERIC)
    for p in paths[:40]:
        s = '.'.join(str(x) for x in p)
        secs += [s, s + '.MIME', s + '.HEADER', s + '.TEXT', s + '.HEADER.FIELDS (SUBJECT)']
    seen = []
    for s in secs:
        if s not in seen: seen.append(s)
    return seen

def main():
    c = Conn()
    for fn in sys.argv[1:]:
        data = open(fn, 'rb').read()
        crlf = re.sub(rb'(?<!\r)\n', b'\r\n', data)
        lines, ok = c.cmd(b'APPEND INBOX', crlf)
        uid = re.search(rb'APPENDUID \d+ (\d+)', ok).group(1)
        lines, _ = c.cmd(b'UID FETCH ' + uid + b' (BODYSTRUCTURE BODY ENVELOPE RFC822.SIZE)')
        items = fetch_items(lines[0])
        recs = [(n, raw) for n, raw, v in items if n != b'UID']
        bs = [v for n, raw, v in items if n == b'BODYSTRUCTURE'][0]
        paths = []
        part_paths(bs, [], paths)
        secs = sections_for(paths)
        for s in secs:
            lines, _ = c.cmd(b'UID FETCH ' + uid + b' (BODY.PEEK[' + s.encode() + b'])')
            it = [x for x in fetch_items(lines[0]) if x[0].startswith(b'BODY[')]
            recs.append((b'BODY[' + s.encode() + b']', it[0][2] or b''))
        for start, cnt in ((0, 10), (5, 1000), (3, 0), (100000, 5)):
            spec = b'BODY.PEEK[]<%d.%d>' % (start, cnt)
            lines, _ = c.cmd(b'UID FETCH ' + uid + b' (' + spec + b')')
            it = [x for x in fetch_items(lines[0]) if x[0].startswith(b'BODY[')]
            recs.append((b'BODY[]<%d.%d>' % (start, cnt), it[0][2] or b''))
        c.cmd(b'UID STORE ' + uid + b' +FLAGS.SILENT (\\Deleted)')
        c.cmd(b'EXPUNGE')
        out = fn[:-4] + '.out'
        with open(out, 'wb') as f:
            for n, v in recs:
                f.write(b'=%d %s\n' % (len(v), n) + v + b'\n')
        print(out, len(recs), 'records')

main()
