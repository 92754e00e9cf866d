// Scripting `minidouble serve` from Node through its control API (POST /_minidouble/...),
// with only fetch and the official openai package. Every test works in a session of its
// own (X-Minidouble-Session), so it shares the server with the other files, which run in
// parallel, without taking their answers.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import OpenAI from "openai";

import { baseURL } from "./server.js";

const HELLO = [{ role: "user", content: "Hello!" }];
let url;
let root;

before(async () => {
  url = await baseURL();
  root = url.replace(/\/v1$/, "");
});

// A name no other test or file uses.
const sessionName = (label) => `node-${process.pid}-${label}`;

function clientFor(session) {
  return new OpenAI({
    baseURL: url,
    apiKey: "sk-node-test",
    maxRetries: 0,
    defaultHeaders: { "X-Minidouble-Session": session },
  });
}

async function control(method, call, session, body) {
  const response = await fetch(`${root}/_minidouble/${call}`, {
    method,
    headers: { "Content-Type": "application/json", "X-Minidouble-Session": session },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe("the control API", () => {
  test("health answers", async () => {
    const { status, json } = await control("GET", "health", sessionName("health"));
    assert.equal(status, 200);
    assert.equal(json.status, "ok");
  });

  test("a scripted reply is what the SDK gets next", async () => {
    const session = sessionName("reply");
    const queued = await control("POST", "reply", session, { text: "scripted from Node" });
    assert.equal(queued.status, 200);
    assert.deepEqual(queued.json.queued, { replies: 1, failures: 0 });
    const client = clientFor(session);
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: HELLO });
    assert.equal(completion.choices[0].message.content, "scripted from Node");
    assert.equal(completion.usage.prompt_tokens, 9);
    // consumed: the next request gets the default reply
    const next = await client.chat.completions.create({ model: "gpt-4o-mini", messages: HELLO });
    assert.notEqual(next.choices[0].message.content, "scripted from Node");
  });

  test("a scripted failure is the real error, once", async () => {
    const session = sessionName("fail");
    assert.equal((await control("POST", "fail", session, { status: 503 })).status, 200);
    const client = clientFor(session);
    await assert.rejects(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: HELLO }),
      (error) => {
        assert.ok(error instanceof OpenAI.APIError);
        assert.equal(error.status, 503);
        assert.ok(error.requestID);
        return true;
      },
    );
    const after = await client.chat.completions.create({ model: "gpt-4o-mini", messages: HELLO });
    assert.equal(after.choices[0].finish_reason, "stop");
    const { json } = await control("GET", "requests", session);
    assert.deepEqual(json.data.map((entry) => entry.status), [503, 200]);
  });

  test("a session's reply and log are its own", async () => {
    const mine = sessionName("mine");
    const theirs = sessionName("theirs");
    await control("POST", "reply", mine, { text: "only for mine" });
    const other = await clientFor(theirs).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "theirs" }],
    });
    assert.notEqual(other.choices[0].message.content, "only for mine");
    const own = await clientFor(mine).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "mine" }],
    });
    assert.equal(own.choices[0].message.content, "only for mine");
    const log = (await control("GET", "requests", theirs)).json;
    assert.equal(log.session, theirs);
    assert.deepEqual(log.data.map((entry) => entry.body.messages[0].content), ["theirs"]);
    assert.equal(log.data[0].prompt_tokens, 9); // as counted for "Hello!": same length
    assert.equal((await control("POST", "reset", mine)).json.reset, mine);
    assert.deepEqual((await control("GET", "requests", mine)).json.data, []);
  });

  test("a control call with an unknown keyword is a clear 400", async () => {
    const { status, json } = await control("POST", "reply", sessionName("bad"), { txt: "x" });
    assert.equal(status, 400);
    assert.match(json.error.message, /^minidouble: .*unknown key 'txt'.*Did you mean text\?/);
    const broken = await control("POST", "fail", sessionName("bad"), "{not json");
    assert.equal(broken.status, 400);
    assert.match(broken.json.error.message, /is not JSON/);
  });
});
