import { decodeEngineJson, EngineBodyError, listOf, mapOf, string, strslice, struct, boolean, integer } from './engine-json';
import { ENGINE_MODELS } from './engine-models';
import captured from './fixtures/docker-cli-28.2-bodies.json';

const model = struct({
  HostConfig: struct({ Privileged: boolean, Binds: listOf(string), Memory: integer }),
  Cmd: strslice,
  Labels: mapOf(string),
});

function refusal(text: string): { field: string; reason: string } {
  try {
    decodeEngineJson(text, model);
  } catch (err) {
    if (err instanceof EngineBodyError) return { field: err.field, reason: err.reason };
    throw err;
  }
  throw new Error(`decoded: ${text}`);
}

/** Each body is refused, naming its field. */
function expectRefusedAt(cases: Array<[body: string, field: string]>): void {
  for (const [body, field] of cases) expect(refusal(body).field).toBe(field);
}

describe("the Engine body decoder (reads as Go's encoding/json would)", () => {
  it('decodes exact field names into the model', () => {
    expect(
      decodeEngineJson('{"HostConfig":{"Privileged":false,"Binds":["v:/d"],"Memory":64},"Cmd":"sh","Labels":{"a":"b"}}', model),
    ).toEqual({
      HostConfig: { Privileged: false, Binds: ['v:/d'], Memory: 64 },
      Cmd: ['sh'],
      Labels: { a: 'b' },
    });
    expect(decodeEngineJson('{"HostConfig":null,"Cmd":null}', model)).toEqual({ HostConfig: null, Cmd: null });
  });

  it.each([
    ['all lower case', '{"hostconfig":{"Privileged":true}}', 'hostconfig', 'HostConfig'],
    ['all upper case', '{"HostConfig":{"PRIVILEGED":true}}', 'HostConfig.PRIVILEGED', 'Privileged'],
    ['mixed case', '{"HostConfig":{"bInDs":["/:/h"]}}', 'HostConfig.bInDs', 'Binds'],
    ["the long s 'ſ' Go folds to 's'", '{"HostConfig":{"Bindſ":["/:/h"]}}', 'HostConfig.Bindſ', 'Binds'],
    ['the Kelvin sign Go folds to k', '{"HostConfig":{"\u212Aey":1}}', 'HostConfig.\u212Aey', undefined],
  ])('refuses a field name matching only without case: %s', (_name, text, field, exact) => {
    const { field: at, reason } = refusal(text);
    expect(at).toBe(field);
    if (exact) expect(reason).toContain(`'${exact}'`);
  });

  it('folds the Kelvin sign as Go does', () => {
    const kelvin = struct({ Kind: string });
    expect(() => decodeEngineJson('{"\u212Aind":"x"}', kelvin)).toThrow(/the field is 'Kind'/);
  });

  it('refuses duplicate keys at any depth, in either order, also in maps', () => {
    expect(refusal('{"HostConfig":{"Privileged":false},"HostConfig":{"Binds":["/:/h"]}}')).toMatchObject({
      field: 'HostConfig',
      reason: expect.stringContaining('duplicate'),
    });
    expectRefusedAt([
      ['{"HostConfig":{"Binds":["/:/h"],"Binds":[]}}', 'HostConfig.Binds'],
      ['{"HostConfig":{"Binds":[],"Binds":["/:/h"]}}', 'HostConfig.Binds'],
      ['{"Labels":{"a":"1","a":"2"}}', 'Labels.a'],
      // An escaped key is the same key once decoded, for Go too.
      ['{"HostConfig":{},"\\u0048ostConfig":{}}', 'HostConfig'],
    ]);
  });

  it('refuses unknown fields, wrong types, numbers Go will not put in an integer, trailing data', () => {
    expect(refusal('{"HostConfig":{"Sysctls":{}}}')).toMatchObject({
      field: 'HostConfig.Sysctls',
      reason: expect.stringContaining('unknown field'),
    });
    expectRefusedAt([
      ['{"HostConfig":{"Privileged":"true"}}', 'HostConfig.Privileged'],
      ['{"HostConfig":{"Memory":1e3}}', 'HostConfig.Memory'],
      ['{"HostConfig":{"Memory":1.0}}', 'HostConfig.Memory'],
      ['{"HostConfig":{"Memory":9007199254740993}}', 'HostConfig.Memory'],
      ['{"Cmd":[1]}', 'Cmd[0]'],
      ['{"Labels":{"a":"b",}}', 'Labels'],
      ['{"__proto__":{"Privileged":true}}', '__proto__'],
    ]);
    expect(refusal('{} {"HostConfig":{"Privileged":true}}').reason).toContain('after the JSON value');
    expect(refusal('{"Labels":{"a":"x\ny"}}').reason).toContain('control character');
    expect(refusal('{"Labels":{"a":"\\x"}}').reason).toContain('escape');
  });

  it('never quotes the body in a refusal (it may hold a credential)', () => {
    expect(() => decodeEngineJson('{"username":"u","password":s3cret-pw}', ENGINE_MODELS.Auth)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    );
    expect(() => decodeEngineJson('{"Memory":123456789.5}', ENGINE_MODELS.ContainerUpdate)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('123456789') }),
    );
  });

  it('reads escapes, and a lone surrogate escape as U+FFFD, as Go does', () => {
    expect(decodeEngineJson('{"Labels":{"a":"\\ud800x","b":"\\u00e9\\n"}}', model)).toEqual({ Labels: { a: '\uFFFDx', b: 'é\n' } });
  });

  it.each(captured.bodies.map((body) => [body.command, body] as const))(
    'decodes what the docker CLI 28.2 sends: %s',
    (_command, { model: name, body }) => {
      const decoded = decodeEngineJson(body, ENGINE_MODELS[name as keyof typeof ENGINE_MODELS]);
      // Serialised again, the body says the same to the engine: every field the CLI sent is kept.
      expect(decoded).toEqual(JSON.parse(body));
    },
  );
});
