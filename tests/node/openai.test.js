// The official openai npm package against `minidouble serve`: what a Node app sees.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import OpenAI, { AzureOpenAI } from "openai";

import { baseURL } from "./server.js";

const HELLO = [{ role: "user", content: "Hello!" }];
let client;
let root;

before(async () => {
  const url = await baseURL();
  root = url.replace(/\/v1$/, "");
  client = new OpenAI({ baseURL: url, apiKey: "sk-node-test", maxRetries: 0 });
});

describe("chat completions", () => {
  test("a reply with the real token count", async () => {
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: HELLO });
    assert.equal(completion.object, "chat.completion");
    assert.match(completion.model, /^gpt-4o-mini-\d{4}-\d{2}-\d{2}$/);
    const [choice] = completion.choices;
    assert.equal(choice.message.role, "assistant");
    assert.ok(choice.message.content.length > 0);
    assert.equal(choice.finish_reason, "stop");
    // "Hello!" as a user message is 9 prompt tokens for GPT-4o mini.
    assert.equal(completion.usage.prompt_tokens, 9);
    assert.equal(
      completion.usage.total_tokens,
      completion.usage.prompt_tokens + completion.usage.completion_tokens,
    );
  });

  test("a stream with usage ends with a usage chunk and no choices", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: HELLO,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length > 3, `only ${chunks.length} chunks`);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, 9);
    const content = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? "")).join("");
    assert.ok(content.length > 0);
    assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
    for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null);
  });

  test("max_tokens cuts the reply at that many tokens", async () => {
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: HELLO,
      max_tokens: 3,
    });
    assert.equal(completion.choices[0].finish_reason, "length");
    assert.equal(completion.usage.completion_tokens, 3);
  });
});

describe("responses", () => {
  test("a response with output_text and usage", async () => {
    const response = await client.responses.create({ model: "gpt-4o-mini", input: "Hello!" });
    assert.equal(response.object, "response");
    assert.equal(response.status, "completed");
    assert.ok(response.output_text.length > 0);
    assert.ok(response.usage.input_tokens > 0);
    assert.equal(
      response.usage.total_tokens,
      response.usage.input_tokens + response.usage.output_tokens,
    );
  });

  test("a streamed response ends with response.completed", async () => {
    const stream = await client.responses.create({ model: "gpt-4o-mini", input: "Hello!", stream: true });
    const types = [];
    for await (const event of stream) types.push(event.type);
    assert.equal(types[0], "response.created");
    assert.equal(types.at(-1), "response.completed");
    assert.ok(types.includes("response.output_text.delta"));
  });
});

describe("API errors", () => {
  test("an out-of-range parameter is a 400 with OpenAI's code, param and message", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: HELLO, temperature: 5 }),
      (error) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal(error.status, 400);
        assert.equal(error.code, "decimal_above_max_value");
        assert.equal(error.param, "temperature");
        assert.equal(error.type, "invalid_request_error");
        assert.match(error.message, /Invalid 'temperature': decimal above maximum value\. Expected a value <= 2, but got 5 instead\./);
        assert.ok(error.requestID);
        return true;
      },
    );
  });

  test("an unknown model is a 404 model_not_found", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "gpt-5-mega", messages: HELLO }),
      (error) => {
        assert.ok(error instanceof OpenAI.NotFoundError);
        assert.equal(error.code, "model_not_found");
        return true;
      },
    );
  });
});

describe("Azure OpenAI", () => {
  test("AzureOpenAI reaches a deployment and gets Azure's answer", async () => {
    const azure = new AzureOpenAI({
      endpoint: root,
      apiKey: "azure-node-test",
      apiVersion: "2024-10-21",
      deployment: "my-mini",
      maxRetries: 0,
    });
    const { data: completion, response } = await azure.chat.completions
      .create({ model: "my-mini", messages: HELLO })
      .withResponse();
    assert.equal(response.headers.get("x-ms-deployment-name"), "my-mini");
    assert.equal(completion.usage.prompt_tokens, 9);
    assert.equal(completion.prompt_filter_results[0].content_filter_results.hate.filtered, false);
  });
});

// To add once the control API lands (issue 13, item 3), through `POST /_minidouble/...` on
// this same server: a scripted reply (POST /_minidouble/reply, then the SDK gets that text),
// a scripted failure (POST /_minidouble/fail {"status": 503}, then APIError 503), and a
// session (X-Minidouble-Session on both calls: a reply scripted for one session is not
// served to another).
