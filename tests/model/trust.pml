/*
 * Trust core v2 (docs/security.md "Checked by spin"): login, session
 * establishment and the replay window, with an attacker that controls one
 * service (M: its keys, its key bundle) and can replay and reorder
 * everything on the socket.  The property: the hub never accepts a message
 * as service A that A did not send, nor one of A's messages twice.
 *
 * One model, three designs (spin -D...):
 *   COMPAT_OLD  compat before issue 11: the login key is the PSK itself and
 *               bundles carry PSKs.  Expected to FAIL: M logs in as A.
 *   COMPAT      the PSK derives a login key and a message key; bundles
 *               carry message keys only.
 *   HARDENED    Ed25519 identities, a session key per connection; the
 *               attacker also steals the key of A's closed connection.
 *
 * -DNO_REPLAY takes the replay window out of the hub: a mutation the
 * checker must catch (A's message replayed), so the model can fail.
 *
 * Keys are numbers; a party can MAC or sign with a key it knows.  The
 * attacker forges only on its own connection (the kernel keeps it off the
 * others' sockets) but replays A's captured tokens and messages on any.
 */

#define A	0
#define M	1
#define NONE	2

/* keys */
#define K_A_PSK		0	/* compat: A's PSK; hardened: A's identity */
#define K_A_LOGIN	1	/* compat: HKDF(A's PSK, login) */
#define K_A_MSG		2	/* compat: HKDF(A's PSK, message) */
#define K_M_PSK		3
#define K_M_LOGIN	4
#define K_M_MSG		5
#define K_S1		6	/* hardened: A's first session key */
#define K_S2		7	/* hardened: A's second session key */
#define K_SM		8	/* hardened: M's session key */
#define NKEYS		9

#define NCONN	3		/* 0: A's first, 1: the attacker's, 2: A's second */
#define NSEQ	4		/* seqs 1..3 */
#define NLOG	4		/* A's messages the attacker saw */

bool knows[NKEYS];		/* the attacker's keys */
byte conn_id[NCONN];		/* identity the hub bound to a connection */
byte conn_key[NCONN];		/* hardened: the connection's session key */
bool conn_open[NCONN];
bool nonce_used[4];		/* login nonces the hub has seen */
bool token_sent[2];		/* A's login tokens, on the socket */
byte top;			/* the hub's replay window for A: highest seq */
byte bits;			/* bit i: top - i accepted (window W) */
byte times[NSEQ];		/* ghost: how often each of A's seqs passed */
#define W	2
bool sent[NSEQ];		/* ghost: A's seqs A itself sent */

/* A's messages as seen on the socket: seq and MAC key */
byte log_seq[NLOG];
byte log_key[NLOG];
byte nlog;

inline login_key(id, k) {
#ifdef COMPAT_OLD
	k = (id == A -> K_A_PSK : K_M_PSK)
#else
	k = (id == A -> K_A_LOGIN : K_M_LOGIN)	/* hardened: identity */
#endif
}

inline msg_key(c, id, k) {
#if defined(HARDENED)
	k = conn_key[c]
#elif defined(COMPAT_OLD)
	k = (id == A -> K_A_PSK : K_M_PSK)
#else
	k = (id == A -> K_A_MSG : K_M_MSG)
#endif
}

#ifdef COMPAT_OLD
#define A_LOGIN	K_A_PSK
#else
#define A_LOGIN	K_A_LOGIN
#endif
#define STEPS	4		/* attacker actions: enough for every attack */

/* The hub: a login token for id MACed/signed with key k, nonce n. */
inline hub_login(c, id, k, n) {
	byte want;
	login_key(id, want);
	if
	:: k == want && !nonce_used[n] ->
		nonce_used[n] = true;
		conn_id[c] = id;
		conn_open[c] = true
	:: else -> skip
	fi
}

/* The hub: a message claiming identity id, MACed with k, seq s, on c. */
inline hub_message(c, id, k, s, origin) {
	byte want;
	msg_key(c, id, want);
	if
	:: conn_open[c] && conn_id[c] == id && k == want ->
		if
		:: id != A -> skip
		/* mob_replay_check: above the top, or in the window unseen */
		:: id == A && s > top ->
			bits = ((s - top < W) -> ((bits << (s - top)) | 1) : 1);
			top = s;
			times[s]++
		:: id == A && s <= top && top - s < W &&
		   (bits & (1 << (top - s))) == 0 ->
			bits = bits | (1 << (top - s));
			times[s]++
#ifdef NO_REPLAY
		:: id == A && s <= top -> times[s]++
#endif
		:: else -> skip
		fi;
		/* the property, at the moment of acceptance */
		assert(id != A || (origin == A && sent[s] && times[s] <= 1))
	:: else -> skip
	fi
}

active proctype service_a()
{
	byte s = 1, k;

	/* first connection: login with nonce 0, two messages */
	atomic {
		token_sent[0] = true;
		hub_login(0, A, A_LOGIN, 0);
#ifdef HARDENED
		conn_key[0] = K_S1;
#endif
	}
	do
	:: s < 3 ->
		atomic {
			msg_key(0, A, k);
			sent[s] = true;
			log_seq[nlog] = s; log_key[nlog] = k; nlog++;
			hub_message(0, A, k, s, A);
			s++
		}
	:: s >= 3 -> break
	od;
	/* disconnect: the hub drops the session key; the attacker steals it */
	atomic {
		conn_open[0] = false;
#ifdef HARDENED
		knows[K_S1] = true;
#endif
	}
	/* second connection, one more message */
	atomic {
		token_sent[1] = true;
		hub_login(2, A, A_LOGIN, 1);
#ifdef HARDENED
		conn_key[2] = K_S2;
#endif
	}
	atomic {
		msg_key(2, A, k);
		sent[3] = true;
		log_seq[nlog] = 3; log_key[nlog] = k; nlog++;
		hub_message(2, A, k, 3, A)
	}
}

active proctype attacker()
{
	byte i, id, k, s, c, steps;

	/* M's own keys and what its bundle holds */
	atomic {
		knows[K_M_PSK] = true; knows[K_M_LOGIN] = true;
		knows[K_M_MSG] = true; knows[K_SM] = true;
#ifdef COMPAT_OLD
		knows[K_A_PSK] = true;		/* bundles carried PSKs */
#endif
#ifdef COMPAT
		knows[K_A_MSG] = true;		/* bundles carry message keys */
#endif
	}
	do
	:: steps == STEPS -> break
	/* log in on its connection as anyone, with any key it knows */
	:: steps < STEPS -> steps++; atomic {
		select(id : A .. M);
		select(k : 0 .. NKEYS - 1);
		select(i : 2 .. 3);		/* fresh nonces */
		if
		:: knows[k] ->
			hub_login(1, id, k, i);
#ifdef HARDENED
			if
			:: conn_open[1] && conn_id[1] == M -> conn_key[1] = K_SM
			:: conn_open[1] && conn_id[1] == A ->
				conn_key[1] = NKEYS	/* a key only A could derive */
			:: else -> skip
			fi
#endif
		:: else -> skip
		fi
	   }
	/* replay one of A's login tokens (captured: nonce 0 or 1) */
	:: steps < STEPS -> steps++; atomic {
		select(i : 0 .. 1);
		if
		:: token_sent[i] -> hub_login(1, A, A_LOGIN, i)
		:: else -> skip
		fi;
#ifdef HARDENED
		if :: conn_id[1] == A && conn_open[1] -> conn_key[1] = NKEYS
		   :: else -> skip fi
#endif
	   }
	/*
	 * forge a message as anyone with any key it knows, on its own
	 * connection: the kernel keeps it off the others' sockets
	 */
	:: steps < STEPS -> steps++; atomic {
		c = 1;
		select(id : A .. M);
		select(k : 0 .. NKEYS - 1);
		select(s : 1 .. NSEQ - 1);
		if
		:: knows[k] -> hub_message(c, id, k, s, M)
		:: else -> skip
		fi
	   }
	/* replay or reorder one of A's messages, on any connection */
	:: steps < STEPS -> steps++; atomic {
		select(i : 0 .. NLOG - 1);
		select(c : 0 .. NCONN - 1);
		if
		:: i < nlog -> hub_message(c, A, log_key[i], log_seq[i], A)
		:: else -> skip
		fi
	   }
	od
}
