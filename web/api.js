// The coordinator's JSON HTTP API (docs/http-api.md), as the dashboard calls it. Bodies are
// the protobuf messages of proto/skald/v1 in their JSON form; an error is
// {"error": {"code": "NOT_FOUND", "message": "..."}} with a matching HTTP status.

// An error answered by the API, or a network failure (status 0, code "UNAVAILABLE").
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  // "NOT_FOUND: saga x does not exist" — what the dashboard shows.
  describe() {
    if (this.status === 501) return `${this.code}: ${this.message} (this coordinator does not implement it yet)`;
    return `${this.code}: ${this.message}`;
  }
}

// Returns "?a=1&b=2" with the non-empty values of `query`, or "".
function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "" && value !== 0) params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

// The API token of a coordinator with authentication on (docs/security.md), asked for when
// the API answers 401 and kept for this tab only (sessionStorage), never in the page's URL.
const TOKEN_KEY = "skald.token";

// Asks for a token; returns whether one was given.
function askForToken(message) {
  const token = window.prompt(`${message}\n\nThis coordinator needs an API token (skald token new). Paste it:`);
  if (!token) return false;
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  return true;
}

// Sends one request and returns the parsed JSON body; throws ApiError otherwise. On a 401,
// asks for a token once and sends the request again with it.
async function request(method, path, { query, body } = {}, asked = false) {
  let response;
  const token = sessionStorage.getItem(TOKEN_KEY);
  try {
    const headers = body === undefined ? { Accept: "application/json" }
                                       : { Accept: "application/json", "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    response = await fetch(`/api/v1/${path}${queryString(query)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "UNAVAILABLE", `cannot reach the coordinator (${error.message})`);
  }
  if (response.status === 401 && !asked) {
    // Requests sent side by side all get a 401: only the first asks, the others use its answer.
    const current = sessionStorage.getItem(TOKEN_KEY);
    if (current && current !== token) return request(method, path, { query, body }, true);
    sessionStorage.removeItem(TOKEN_KEY);
    if (askForToken("The coordinator refused the request: no valid token.")) {
      return request(method, path, { query, body }, true);
    }
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!response.ok) {
    const error = json && json.error;
    throw new ApiError(response.status, (error && error.code) || `HTTP_${response.status}`,
                       (error && error.message) || text.slice(0, 200) || response.statusText);
  }
  if (json === null) throw new ApiError(response.status, "INTERNAL", `not JSON: ${text.slice(0, 200)}`);
  return json;
}

const id = (sagaId) => encodeURIComponent(sagaId);

// Returns ListSagasResponse {sagas, next_page_token}. `filter`: state (short name),
// definition, created_after, created_before (RFC 3339), page_size, page_token.
export function listSagas(filter = {}) {
  return request("GET", "sagas", { query: filter });
}

// Returns CountSagasResponse {by_state: {"RUNNING": "3", ...}}.
export function countSagas(definition = "") {
  return request("GET", "sagas/counts", { query: { definition } });
}

// Returns GetSagaResponse {saga} with its steps.
export function getSaga(sagaId) {
  return request("GET", `sagas/${id(sagaId)}`);
}

// Returns GetSagaHistoryResponse {events} with ids above `afterEventId`, oldest first.
export function getSagaHistory(sagaId, afterEventId = 0) {
  return request("GET", `sagas/${id(sagaId)}/history`, { query: { after_event_id: afterEventId } });
}

// Returns GetDefinitionResponse {name, version, definition_json}; version 0 is the latest.
export function getDefinition(name, version = 0) {
  return request("GET", `definitions/${encodeURIComponent(name)}`, { query: { version } });
}

// Returns one page of ListParticipantsReply {instances, next_page_token}.
export function listParticipants(service = "", pageToken = "") {
  return request("GET", "participants", { query: { service, page_size: 1000, page_token: pageToken } });
}

// Returns every live instance, following the pages (at most `maxPages` of 1,000).
export async function listAllParticipants(service = "", maxPages = 10) {
  const instances = [];
  let token = "";
  for (let page = 0; page < maxPages; page++) {
    const reply = await listParticipants(service, token);
    instances.push(...(reply.instances || []));
    token = reply.next_page_token || "";
    if (!token) break;
  }
  return { instances };
}

// Records an operator's action and returns OperatorActionResponse {saga}. `action` is
// "abort", "retry" or "skip"; `step` is needed for "skip" only.
export function operatorAction(sagaId, action, { operator, reason, step = "" }) {
  const body = { operator, reason };
  if (step) body.step = step;
  return request("POST", `sagas/${id(sagaId)}/${action}`, { body });
}
