/*
 * Mobius dashboard: the node's services and objects as a tree, values live
 * over the WebSocket stream, writable values editable when the token's
 * scope allows.  Plain JavaScript, no build step; talks only to this server.
 * The token comes from the login form or the URL fragment (#token=...,
 * never sent to a server) and is kept in sessionStorage.
 */
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
let token = null;
let scopes = [];
const rows = new Map();		/* resource URI -> table row */
const WRITE_PRIORITY = 8;

function el(tag, attrs = {}, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (k === "class") e.className = v;
		else if (k.startsWith("data-")) e.setAttribute(k, v);
		else e[k] = v;
	}
	for (const k of kids) e.append(k);
	return e;
}

function showError(msg) {
	const e = $("#error");
	e.textContent = msg;
	e.hidden = !msg;
}

async function api(method, path, body) {
	const opt = { method, headers: { "Authorization": "Bearer " + token } };
	if (body !== undefined) {
		opt.headers["Content-Type"] = "application/json";
		opt.body = JSON.stringify(body);
	}
	const r = await fetch("/api/v1/" + path, opt);
	const j = await r.json().catch(() => ({}));
	if (!r.ok)
		throw new Error((j.error && j.error.message) || ("HTTP " + r.status));
	return j;
}

/* Scope patterns as the server reads them: + one part, # the rest. */
function covers(pattern, uri) {
	const p = pattern.split("/"), u = uri.split("/");
	const multi = p[p.length - 1] === "#";
	const fixed = multi ? p.length - 1 : p.length;
	if (multi ? fixed > u.length : p.length !== u.length) return false;
	for (let i = 0; i < fixed; i++)
		if (p[i] !== "+" && p[i] !== u[i]) return false;
	return true;
}

function mayWrite(uri) {
	return scopes.some(s => {
		const [verb, pat] = [s.slice(0, s.indexOf(":")), s.slice(s.indexOf(":") + 1)];
		return (verb === "write" || verb === "rw") && covers(pat, uri);
	});
}

function fmtValue(v, units) {
	if (v === null || v === undefined) return "–";
	if (typeof v === "boolean") return v ? "on" : "off";
	return String(v) + (units ? " " + units : "");
}

function fmtTime(t) {
	return t ? new Date(t).toLocaleTimeString() : "";
}

function setRow(rec) {
	const tr = rows.get(rec.uri);
	if (!tr) return;
	const v = $(".value", tr);
	const text = fmtValue(rec.value, tr.dataset.units);
	if (v.textContent !== text) {
		v.textContent = text;
		tr.classList.remove("flash");
		void tr.offsetWidth;
		tr.classList.add("flash");
	}
	tr.dataset.value = JSON.stringify(rec.value);
	$(".when", tr).textContent = fmtTime(rec.t);
	tr.classList.toggle("offline", rec.status === "offline");
}

function editor(uri, res) {
	const td = el("td", { class: "edit" });
	if (res.access !== "rw" || !mayWrite(uri)) return td;
	let input;
	if (res.type === "bool") {
		input = el("button", { type: "button", textContent: "toggle" });
		input.addEventListener("click", () => write(uri, !JSON.parse(rows.get(uri).dataset.value || "false")));
		td.append(input);
	} else {
		input = el("input", { type: res.type === "number" || res.type === "timespan" ? "number" : "text",
			step: "any", "aria-label": "new value for " + res.name });
		if (res.min !== undefined) input.min = res.min;
		if (res.max !== undefined) input.max = res.max;
		const set = el("button", { type: "button", textContent: "set", class: "set" });
		const clr = el("button", { type: "button", textContent: "clear", class: "clear",
			title: "clear priority " + WRITE_PRIORITY });
		set.addEventListener("click", () => {
			const raw = input.value.trim();
			if (raw === "") return;
			write(uri, input.type === "number" ? Number(raw) : raw);
		});
		clr.addEventListener("click", () => clear(uri));
		td.append(input, set, clr);
	}
	return td;
}

async function write(uri, value) {
	try {
		const r = await api("PUT", "values/" + uri, { value, priority: WRITE_PRIORITY });
		setRow({ uri, value: r.value, t: r.changed, status: r.status });
		showError("");
	} catch (e) { showError(uri + ": " + e.message); }
}

async function clear(uri) {
	try {
		const r = await api("DELETE", "values/" + uri + "?priority=" + WRITE_PRIORITY);
		setRow({ uri, value: r.value, t: r.changed, status: r.status });
		showError("");
	} catch (e) { showError(uri + ": " + e.message); }
}

function renderService(svc) {
	const box = el("section", { class: "svc", "data-svc": svc.id });
	box.append(el("h2", {}, svc.name || "service", el("span", { class: "id", textContent: svc.id }),
		el("span", { class: "state " + svc.state, textContent: svc.state })));
	for (const o of svc.objects || []) {
		const sec = el("div", { class: "obj" });
		sec.append(el("h3", {}, o.name || (o.pid + "/" + o.ins), el("span", { class: "id", textContent: o.uri })));
		const tbl = el("table");
		for (const r of o.resources || []) {
			const uri = o.uri + "/" + r.rid;
			const tr = el("tr", { "data-uri": uri, "data-units": r.units || "" });
			tr.append(el("td", { class: "name", textContent: r.name }),
				el("td", { class: "value", textContent: "…" }),
				el("td", { class: "when" }), editor(uri, r));
			if (svc.state === "offline") tr.classList.add("offline");
			rows.set(uri, tr);
			tbl.append(tr);
		}
		sec.append(tbl);
		box.append(sec);
	}
	return box;
}

function stream() {
	const proto = location.protocol === "https:" ? "wss:" : "ws:";
	const ws = new WebSocket(proto + "//" + location.host + "/api/v1/stream?pattern=%23&access_token=" +
		encodeURIComponent(token));
	const link = $("#link");
	ws.onopen = () => { link.textContent = "live"; link.className = "link up"; };
	ws.onmessage = ev => { try { setRow(JSON.parse(ev.data)); } catch (e) { /* not a record */ } };
	ws.onclose = ev => {
		link.textContent = ev.code === 1008 ? "cut: " + ev.reason : "reconnecting";
		link.className = "link down";
		setTimeout(stream, 2000);
	};
}

async function start() {
	try {
		const st = await api("GET", "status");
		scopes = (st.token && st.token.scopes) || [];
		$("#node").textContent = st.api.id.split("/")[0];
		const list = await api("GET", "discover");
		const tree = $("#tree");
		tree.textContent = "";
		for (const s of list.services) {
			try {
				tree.append(renderService(await api("GET", "discover/" + s.id)));
			} catch (e) { tree.append(el("p", { class: "error", textContent: s.id + ": " + e.message })); }
		}
		$("#login").hidden = true;
		showError("");
		stream();
	} catch (e) {
		sessionStorage.removeItem("mobius-token");
		$("#login").hidden = false;
		showError(e.message);
	}
}

document.addEventListener("DOMContentLoaded", () => {
	const m = location.hash.match(/token=([A-Za-z0-9_-]+)/);
	if (m) {
		sessionStorage.setItem("mobius-token", m[1]);
		history.replaceState(null, "", location.pathname);
	}
	token = sessionStorage.getItem("mobius-token");
	$("#login").addEventListener("submit", ev => {
		ev.preventDefault();
		token = $("#token").value.trim();
		sessionStorage.setItem("mobius-token", token);
		start();
	});
	if (token) start(); else $("#login").hidden = false;
});
