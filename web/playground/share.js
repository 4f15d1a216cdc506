// Share a project as a link: the project (never an API key) in the URL fragment, compressed.
//
//   https://site.example/#project=<base64url(deflate-raw(JSON))>
//
// The fragment never reaches a server. A visitor who opens the link sees the project read-only,
// its tools' source in full, and nothing of it runs until they have read it and chosen to edit a
// copy. A malformed, truncated or oversized fragment gets a message that says so, and the page
// goes on as if the link had been plain.

import { checkProject } from "./project.js";

const PREFIX = "#project=";
/** Longest fragment read (characters): a link of a realistic project is about 2-4 KB. */
export const MAX_FRAGMENT = 256 * 1024;
/** Largest project JSON read from a link (bytes, after inflating): stops a small "zip bomb" link. */
export const MAX_PROJECT_BYTES = 2 * 1024 * 1024;
/** Links longer than this may be cut by chat apps and mail clients: the sharer is told. */
export const LONG_LINK = 8000;

export class ShareLinkError extends Error {
  name = "ShareLinkError";
}

/** The project's share link on `base` (the page's URL; its query stays, its fragment is replaced). */
export async function shareLink(project, base = location.href) {
  const json = JSON.stringify(checkProject(project)); // the format has no field for a key
  const packed = await deflate(new TextEncoder().encode(json));
  const url = new URL(base);
  url.hash = `project=${toBase64Url(packed)}`;
  return url.href;
}

/** True when `hash` (location.hash) carries a shared project. */
export const isShareFragment = (hash) => hash.startsWith(PREFIX);

/** The project a fragment carries; a ShareLinkError that says what is wrong with it otherwise. */
export async function readShareFragment(hash) {
  const text = hash.slice(PREFIX.length);
  if (text.length > MAX_FRAGMENT) {
    throw new ShareLinkError(`This link is too long to be a shared agent (${text.length.toLocaleString("en")} `
      + `characters; at most ${MAX_FRAGMENT.toLocaleString("en")}).`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new ShareLinkError("This link's shared agent is damaged: it has characters a share link never has "
      + "(was it cut or edited when it was copied?).");
  }
  let json;
  try {
    json = new TextDecoder("utf-8", { fatal: true }).decode(await inflate(fromBase64Url(text), MAX_PROJECT_BYTES));
  } catch (error) {
    if (error instanceof ShareLinkError) throw error;
    throw new ShareLinkError("This link's shared agent is damaged and cannot be read "
      + "(was it cut short when it was copied?).");
  }
  let value;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ShareLinkError("This link's shared agent is damaged: it is not a project.");
  }
  try {
    return checkProject(value);
  } catch (error) {
    throw new ShareLinkError(`This link does not hold a usable agent: ${error.message}`);
  }
}

async function deflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Inflate, reading at most `limit` bytes: a link cannot make the page allocate more. */
async function inflate(bytes, limit) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new ShareLinkError(`This link's shared agent is too big to open (more than ${limit / 1024 / 1024} MB).`);
    }
    chunks.push(value);
  }
  return new Uint8Array(await new Blob(chunks).arrayBuffer());
}

function toBase64Url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
