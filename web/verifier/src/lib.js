// Entry point of the verifier library without the page UI (registry/artifacts/verifier-lib.js):
// `window.credentialRegistry` only, for pages that render a report themselves (the service's
// share page, registry/service/api/static/share-live.js).
import { api } from "./api.js";

window.credentialRegistry = api;
