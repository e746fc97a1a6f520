// imapflow_check.mjs HOST PORT USER PASS CAFILE ONE.CRLF
// The npm IMAP client imapflow against a server over implicit TLS
// (certificate verified against CAFILE), for tests/bats/imap_clients.bats.
// The INBOX must hold exactly two messages, "flow one" (whose stored bytes
// are ONE.CRLF) and "flow two".  Checks LIST, FETCH (envelope,
// bodyStructure, source, flags), SEARCH, STORE, MOVE, then prints
// "idling" once the IDLE command is running and waits (at most 60 s) for
// the test to deliver a third message over SMTP; then a second session
// sets a flag and expunges while the first one idles; last an APPEND and
// a multipart message with an attachment downloaded part by part, and
// QRESYNC (VANISHED, MODSEQ) seen by an idling session.  Prints one line per
// step and "ok" at the end.  A failed check is reported ("FAIL step:
// reason") and the next steps still run, so that one run names every
// failure; then the exit status is 1.
import { ImapFlow } from 'imapflow';
import { readFileSync } from 'node:fs';

const [host, port, user, pass, caFile, oneFile] = process.argv.slice(2);

const failures = [];

function check(cond, what) {
	if (!cond) throw new Error('check failed: ' + what);
}

async function step(name, fn) {
	try {
		await fn();
	} catch (e) {
		failures.push(name);
		console.log('FAIL ' + name + ': ' + (e && e.message ? e.message : e) +
			(e && e.response ? ' (server: ' + String(e.response).trim() + ')' : ''));
	}
}

const options = {
	host, port: Number(port), secure: true,
	auth: { user, pass },
	tls: { ca: [readFileSync(caFile)], rejectUnauthorized: true },
	logger: false,
	disableAutoIdle: true,
};
const client = new ImapFlow(options);

// event(emitter, name, what): the next NAME event, at most 60 s away
function event(emitter, name, what) {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('no ' + what + ' within 60 s')), 60000);
		emitter.once(name, (d) => { clearTimeout(timer); resolve(d); });
	});
}

// idleWhile(action, waitFor): IDLE on the first client, ACTION (by the other
// session) once IDLE runs, until WAITFOR settles
async function idleWhile(action, waitFor) {
	const idling = client.idle();
	while (!client.idling) await new Promise((r) => setTimeout(r, 20));
	await action();
	try {
		return await waitFor;
	} finally {
		await client.noop(); // ends IDLE
		await idling;
	}
}

async function listAndCreate() {
	await client.mailboxCreate('Flow');
	await client.mailboxCreate('Gr\u00fc\u00dfe \u65e5\u672c');
	const boxes = await client.list();
	const paths = boxes.map((b) => b.path);
	console.log('list: ' + paths.join(' '));
	check(paths.includes('INBOX'), 'INBOX listed');
	check(paths.includes('Flow'), 'Flow listed after CREATE');
	check(paths.includes('Gr\u00fc\u00dfe \u65e5\u672c'), 'a non-ASCII folder name (modified UTF-7) listed as created');
}

async function fetchFirst() {
	const m = await client.fetchOne('1', { uid: true, flags: true, envelope: true, bodyStructure: true, source: true });
	check(m, 'FETCH 1 answered');
	check(m.source && m.source.equals(readFileSync(oneFile)), 'source equals the stored message');
	check(m.envelope, 'ENVELOPE parsed');
	check(m.bodyStructure, 'BODYSTRUCTURE parsed');
	console.log('fetch: uid ' + m.uid + ' subject ' + m.envelope.subject + ' type ' + m.bodyStructure.type);
	check(m.envelope.subject === 'flow one', 'envelope subject');
	check(m.envelope.from[0].address === 'sender@example.test', 'envelope from');
	check(m.envelope.from[0].name === 'Sender', 'envelope from name');
	check(m.envelope.messageId === '<imapc-1@example.test>', 'envelope message-id');
	check(m.envelope.date instanceof Date && m.envelope.date.toISOString() === '2026-11-27T10:01:00.000Z', 'envelope date');
	check(m.bodyStructure.type === 'text/plain', 'bodyStructure type');
	check(m.bodyStructure.parameters && m.bodyStructure.parameters.charset === 'us-ascii', 'bodyStructure charset');
}

async function searchAndFlags() {
	const seqs = await client.search({ subject: 'flow two' });
	console.log('search: ' + JSON.stringify(seqs));
	check(seqs.length === 1 && seqs[0] === 2, 'SEARCH SUBJECT finds message 2');
	const uids = await client.search({ body: 'imapflow first' }, { uid: true });
	check(uids.length === 1, 'UID SEARCH BODY finds one message');
	await client.messageFlagsAdd('2', ['\\Flagged', '$Label1']);
	let m = await client.fetchOne('2', { flags: true });
	console.log('flags: ' + [...m.flags].join(' '));
	check(m.flags.has('\\Flagged') && m.flags.has('$Label1'), 'flags added');
	await client.messageFlagsRemove('2', ['$Label1']);
	m = await client.fetchOne('2', { flags: true });
	check(m.flags.has('\\Flagged') && !m.flags.has('$Label1'), 'flag removed');
	const flagged = await client.search({ flagged: true });
	check(flagged.length === 1 && flagged[0] === 2, 'SEARCH FLAGGED');
}

async function move() {
	const res = await client.messageMove('2', 'Flow');
	console.log('move: ' + JSON.stringify(res && res.uidMap ? [...res.uidMap] : res));
	check(res && res.destination === 'Flow', 'MOVE result');
	check(res.uidMap && res.uidMap.size === 1, 'MOVE gives a COPYUID map');
	check(client.mailbox.exists === 1, 'INBOX has one message after MOVE');
	const st = await client.status('Flow', { messages: true });
	check(st.messages === 1, 'Flow has the moved message');
}

async function idle() {
	const before = client.mailbox.exists;
	let timer;
	const got = new Promise((resolve, reject) => {
		client.on('exists', (d) => resolve(d));
		timer = setTimeout(() => reject(new Error('no EXISTS during IDLE within 60 s')), 60000);
	});
	const idling = client.idle();
	while (!client.idling) await new Promise((r) => setTimeout(r, 20));
	console.log('idling');
	const d = await got;
	clearTimeout(timer);
	console.log('idle: exists ' + before + ' -> ' + d.count);
	check(d.count === before + 1, 'one more message');
	await client.noop(); // ends IDLE
	await idling;
	const m = await client.fetchOne('*', { source: true });
	check(m && /\r\nSubject: flow three\r\n/.test(m.source.toString()), 'the delivered message');
}

// A second session changes flags and expunges: the idling first one is
// told (FETCH FLAGS, then EXPUNGE) without asking.
async function twoSessions() {
	const other = new ImapFlow(options);
	await other.connect();
	try {
		await other.mailboxOpen('INBOX');
		check(other.mailbox.exists === 2, 'second session sees two messages');
		const f = await idleWhile(() => other.messageFlagsAdd('1', ['\\Answered']),
			event(client, 'flags', 'FETCH FLAGS from the other session'));
		console.log('other session: flags of ' + f.seq + ': ' + [...f.flags].join(' '));
		check(f.seq === 1 && f.flags.has('\\Answered'), 'the flag set by the other session');
		const x = await idleWhile(() => other.messageDelete('1'),
			event(client, 'expunge', 'EXPUNGE from the other session'));
		console.log('other session: expunged ' + x.seq);
		check(x.seq === 1, 'message 1 expunged');
		check(client.mailbox.exists === 1, 'one message left');
	} finally {
		await other.logout();
	}
}

// APPEND with flags and a date to another folder, then that message back
// by the UID the server gave (APPENDUID).
async function append() {
	const raw = Buffer.from('From: Flow <flow@example.test>\r\nTo: ' + user + '\r\nSubject: appended by imapflow\r\n' +
		'Message-ID: <imapflow-append@example.test>\r\n\r\nappended\r\nbody\r\n');
	const when = new Date('2025-03-04T05:06:07Z');
	const res = await client.append('Flow', raw, ['\\Seen', '\\Draft'], when);
	console.log('append: uid ' + (res && res.uid) + ' uidValidity ' + (res && res.uidValidity));
	check(res && res.uid > 0, 'APPENDUID');
	await client.mailboxOpen('Flow');
	const m = await client.fetchOne(String(res.uid), { source: true, flags: true, internalDate: true }, { uid: true });
	check(m && m.source.equals(raw), 'appended bytes');
	check(m.flags.has('\\Seen') && m.flags.has('\\Draft'), 'appended flags');
	check(m.internalDate instanceof Date && m.internalDate.getTime() === when.getTime(), 'INTERNALDATE of APPEND');
	await client.mailboxOpen('INBOX');
}

// A multipart message with a binary attachment: BODYSTRUCTURE as imapflow
// reads it, and the attachment downloaded (BODY[2], base64 decoded by the
// client) equals the bytes that were attached.
async function multipart() {
	const bin = Buffer.alloc(3000);
	for (let i = 0; i < bin.length; i++) bin[i] = (i * 7 + 3) & 255;
	const b64 = bin.toString('base64').replace(/.{76}/g, '$&\r\n');
	const raw = Buffer.from('From: Flow <flow@example.test>\r\nTo: ' + user + '\r\n' +
		'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= with attachment\r\nMIME-Version: 1.0\r\n' +
		'Content-Type: multipart/mixed; boundary="b1"\r\n\r\npreamble\r\n--b1\r\n' +
		'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
		'Gr\u00fc\u00dfe\r\n--b1\r\nContent-Type: application/octet-stream; name="data.bin"\r\n' +
		'Content-Disposition: attachment; filename="data.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
		b64 + '\r\n--b1--\r\n', 'utf8');
	const res = await client.append('Flow', raw);
	await client.mailboxOpen('Flow');
	const m = await client.fetchOne(String(res.uid), { envelope: true, bodyStructure: true }, { uid: true });
	const bs = m.bodyStructure;
	console.log('multipart: ' + bs.type + ' ' + (bs.childNodes || []).map((c) => c.part + '=' + c.type).join(' '));
	check(m.envelope.subject === 'Gr\u00fc\u00dfe with attachment', 'encoded-word subject decoded');
	check(bs.type === 'multipart/mixed' && bs.childNodes && bs.childNodes.length === 2, 'two parts');
	const [t, a] = bs.childNodes;
	check(t.part === '1' && t.type === 'text/plain' && t.parameters.charset === 'utf-8', 'part 1 text/plain utf-8');
	check(a.part === '2' && a.type === 'application/octet-stream' && a.encoding === 'base64', 'part 2 base64');
	check(a.disposition === 'attachment' && a.dispositionParameters.filename === 'data.bin', 'attachment disposition');
	const { content } = await client.download(String(res.uid), '2', { uid: true });
	const chunks = [];
	for await (const c of content) chunks.push(c);
	check(Buffer.concat(chunks).equals(bin), 'downloaded attachment equals the bytes attached');
	const { content: text } = await client.download(String(res.uid), '1', { uid: true });
	const tchunks = [];
	for await (const c of text) tchunks.push(c);
	check(Buffer.concat(tchunks).toString('utf8') === 'Gr\u00fc\u00dfe', 'part 1 text');
	await client.mailboxOpen('INBOX');
}

// With QRESYNC enabled (imapflow asks for it when the server offers it),
// an idling session learns of another's EXPUNGE as VANISHED (by UID) and
// of a flag change with its MODSEQ.
async function qresync() {
	const q = new ImapFlow({ ...options, qresync: true });
	const other = new ImapFlow(options);
	await q.connect();
	await other.connect();
	try {
		check(q.capabilities.has('QRESYNC'), 'QRESYNC offered');
		check(q.enabled && q.enabled.has('QRESYNC'), 'QRESYNC enabled');
		await q.mailboxCreate('Q');
		for (let i = 0; i < 3; i++) await other.append('Q', Buffer.from('Subject: q' + i + '\r\n\r\nq\r\n'));
		const mb = await q.mailboxOpen('Q');
		check(mb.exists === 3 && mb.highestModseq > 0n, 'SELECT with HIGHESTMODSEQ');
		const modseq0 = mb.highestModseq; // mb is updated as changes arrive
		await other.mailboxOpen('Q');
		const idleOn = async (action, name) => {
			const ev = event(q, name, name + ' from the other session');
			const idling = q.idle();
			while (!q.idling) await new Promise((r) => setTimeout(r, 20));
			await action();
			try { return await ev; } finally { await q.noop(); await idling; }
		};
		const x = await idleOn(() => other.messageDelete('1'), 'expunge');
		console.log('qresync: expunge uid ' + x.uid + ' vanished ' + x.vanished);
		check(x.vanished === true && x.uid === 1, 'VANISHED of UID 1');
		const f = await idleOn(() => other.messageFlagsAdd('1', ['\\Flagged']), 'flags');
		console.log('qresync: flags uid ' + f.uid + ' modseq ' + f.modseq);
		check(f.uid === 2 && f.flags.has('\\Flagged') && BigInt(f.modseq) > modseq0, 'FETCH FLAGS with a higher MODSEQ');
		check(q.mailbox.exists === 2, 'two messages left');
	} finally {
		await other.logout();
		await q.logout();
	}
}

try {
	await client.connect();
	console.log('connected: secure ' + client.secureConnection);
	await step('list', listAndCreate);
	await client.mailboxOpen('INBOX');
	check(client.mailbox.exists === 2, 'INBOX holds two messages');
	await step('fetch', fetchFirst);
	await step('search and flags', searchAndFlags);
	await step('move', move);
	await step('idle', idle);
	await step('two sessions', twoSessions);
	await step('append', append);
	await step('multipart', multipart);
	await step('qresync', qresync);
	await client.logout();
	if (failures.length) {
		console.log('failed: ' + failures.join(', '));
		process.exit(1);
	}
	console.log('ok');
} catch (e) {
	console.log('error: ' + (e && e.stack ? e.stack : e) + (e && e.response ? ' response: ' + e.response : ''));
	try { client.close(); } catch { /* already closed */ }
	process.exit(1);
}
