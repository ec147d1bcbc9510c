// Trackhub operator console: plain DOM, no framework, no third-party code. Every value from the API is
// written with textContent, never as HTML, so a card id or an error text cannot inject markup.
'use strict';

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('trackhub.adminToken') || '';

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (!res.ok) {
    const err = new Error(data.error || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function cell(row, value) {
  const td = document.createElement('td');
  td.textContent = value === undefined || value === null ? '' : String(value);
  row.appendChild(td);
  return td;
}

function query(form, extra = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) params.set(k, String(v));
  for (const [k, v] of Object.entries(extra)) if (v) params.set(k, v);
  return params.toString();
}

function showTab(name) {
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== name;
  for (const b of document.querySelectorAll('#tabs button[data-tab]')) b.classList.toggle('active', b.dataset.tab === name);
  if (name === 'issuers') loadIssuers();
  if (name === 'notifications') loadNotifications(false);
  if (name === 'operations') loadOperations(false);
}

function showError(target, err) {
  if (err.status === 401) return signOut('The admin token was refused.');
  target.textContent = err.message;
}

// Operations
let operationsCursor = null;
async function loadOperations(more) {
  const form = $('operations-form');
  const rows = $('operations-rows');
  if (!more) {
    rows.replaceChildren();
    operationsCursor = null;
  }
  try {
    const data = await api('GET', `/admin/v1/operations?${query(form, { limit: '50', cursor: more ? operationsCursor : '' })}`);
    for (const item of data.operations) {
      const op = item.operation;
      const tr = document.createElement('tr');
      tr.className = 'clickable';
      cell(tr, op.startTime);
      cell(tr, op.issuerId);
      cell(tr, op.cardId);
      cell(tr, op.details.trackingType);
      cell(tr, op.status + (op.errorCode ? ` (${op.errorCode})` : ''));
      cell(tr, op.details.shipment ? op.details.shipment.status : '');
      cell(tr, item.carrier ? `${item.carrier} ${item.trackingNumber}` : '');
      cell(tr, op.sequenceNumber);
      tr.addEventListener('click', () => {
        const detail = $('operation-detail');
        detail.hidden = false;
        detail.textContent = JSON.stringify(item, null, 2);
      });
      rows.appendChild(tr);
    }
    operationsCursor = data.nextCursor;
    $('operations-more').hidden = !operationsCursor;
  } catch (err) {
    showError($('operation-detail'), err);
    $('operation-detail').hidden = false;
  }
}

// Notifications (dead letters and replay)
let notificationsCursor = null;
async function loadNotifications(more) {
  const form = $('notifications-form');
  const rows = $('notifications-rows');
  if (!more) {
    rows.replaceChildren();
    notificationsCursor = null;
  }
  try {
    const data = await api('GET', `/admin/v1/notifications?${query(form, { limit: '50', cursor: more ? notificationsCursor : '' })}`);
    for (const n of data.notifications) {
      const tr = document.createElement('tr');
      cell(tr, n.createdAt);
      cell(tr, n.issuerId);
      cell(tr, n.id);
      cell(tr, n.state);
      cell(tr, n.attempts);
      cell(tr, n.lastError);
      const actions = cell(tr, '');
      const show = document.createElement('button');
      show.textContent = 'Attempts';
      show.addEventListener('click', async () => {
        const detail = $('notification-detail');
        detail.hidden = false;
        try {
          detail.textContent = JSON.stringify(await api('GET', `/admin/v1/notifications/${encodeURIComponent(n.id)}`), null, 2);
        } catch (err) {
          showError(detail, err);
        }
      });
      actions.appendChild(show);
      {
        const replay = document.createElement('button');
        replay.textContent = 'Replay';
        replay.className = 'replay';
        replay.addEventListener('click', async () => {
          try {
            await api('POST', `/admin/v1/notifications/${encodeURIComponent(n.id)}/replay`);
            $('notifications-message').textContent = `Notification ${n.id} queued again (same webhook-id).`;
            loadNotifications(false);
          } catch (err) {
            showError($('notifications-message'), err);
          }
        });
        actions.appendChild(replay);
      }
      rows.appendChild(tr);
    }
    notificationsCursor = data.nextCursor;
    $('notifications-more').hidden = !notificationsCursor;
  } catch (err) {
    showError($('notifications-message'), err);
  }
}

async function replayIssuer(event) {
  event.preventDefault();
  const form = event.target;
  const issuerId = form.issuerId.value.trim();
  const since = new Date(form.since.value).toISOString();
  try {
    const data = await api('POST', `/admin/v1/issuers/${encodeURIComponent(issuerId)}/replay`, { since });
    $('notifications-message').textContent = `Replay of ${issuerId} since ${since}: ${JSON.stringify(data)}`;
    loadNotifications(false);
  } catch (err) {
    showError($('notifications-message'), err);
  }
}

// Issuers
async function loadIssuers() {
  const rows = $('issuers-rows');
  rows.replaceChildren();
  try {
    const data = await api('GET', '/admin/v1/issuers');
    for (const i of data.issuers) {
      const tr = document.createElement('tr');
      cell(tr, i.issuerId);
      cell(tr, i.name);
      cell(tr, i.notificationBaseUrl);
      cell(tr, i.maxOperationsPerNotification);
      cell(tr, i.autoTrackShipment ? 'yes' : 'no');
      cell(tr, i.enabled ? 'yes' : 'no');
      rows.appendChild(tr);
    }
  } catch (err) {
    showError($('notifications-message'), err);
  }
}

function signOut(message) {
  token = '';
  sessionStorage.removeItem('trackhub.adminToken');
  $('tabs').hidden = true;
  for (const s of document.querySelectorAll('.tab')) s.hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
}

async function signIn(candidate) {
  token = candidate;
  try {
    await api('GET', '/admin/v1/issuers');
  } catch (err) {
    return signOut(err.status === 401 ? 'The admin token was refused.' : err.message);
  }
  sessionStorage.setItem('trackhub.adminToken', token);
  $('login').hidden = true;
  $('tabs').hidden = false;
  showTab('operations');
}

$('sandbox-banner').hidden = document.body.dataset.sandbox !== 'true';
$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  signIn($('token').value);
});
$('sign-out').addEventListener('click', () => signOut());
for (const b of document.querySelectorAll('#tabs button[data-tab]')) b.addEventListener('click', () => showTab(b.dataset.tab));
$('operations-form').addEventListener('submit', (e) => {
  e.preventDefault();
  loadOperations(false);
});
$('operations-more').addEventListener('click', () => loadOperations(true));
$('notifications-form').addEventListener('submit', (e) => {
  e.preventDefault();
  loadNotifications(false);
});
$('notifications-more').addEventListener('click', () => loadNotifications(true));
$('replay-issuer-form').addEventListener('submit', replayIssuer);
if (token) signIn(token);
