import { describeEngineError } from './engine';

describe('describeEngineError', () => {
  it('passes the engine message through with its HTTP class', () => {
    expect(describeEngineError({ statusCode: 404, json: { message: 'No such container: x' } })).toEqual({
      error: 'No such container: x',
      error_code: 404,
    });
    expect(describeEngineError({ statusCode: 403, json: { message: 'endpoint already exists' } })).toEqual({
      error: 'endpoint already exists',
      error_code: 409,
    });
  });

  it('treats the state conflicts the engine answers with a 500 as conflicts', () => {
    const notOnNetwork = 'container 3f2a is not connected to the network surface-net';
    expect(describeEngineError({ statusCode: 500, json: { message: notOnNetwork } })).toEqual({ error: notOnNetwork, error_code: 409 });
    const beingRemoved = 'Container 3f2a is marked for removal and cannot be connected or disconnected to the network';
    expect(describeEngineError({ statusCode: 500, json: { message: beingRemoved } })).toEqual({ error: beingRemoved, error_code: 409 });
  });

  it('treats a container user the image does not know, answered with a 500 when it starts, as bad input', () => {
    for (const message of [
      'unable to find user ü: no matching entries in passwd file',
      'unable to find group staff2: no matching entries in group file',
    ]) {
      expect(describeEngineError({ statusCode: 500, json: { message } })).toEqual({ error: message, error_code: 400 });
    }
  });

  it('treats an image reference the engine cannot parse, answered with a 500, as bad input', () => {
    const err = {
      statusCode: 500,
      json: null,
      message: '(HTTP code 500) server error - invalid reference format: repository name must be lowercase ',
    };
    expect(describeEngineError(err)).toEqual({ error: 'invalid reference format: repository name must be lowercase', error_code: 400 });
  });

  it('finds the cause of a refused streamed call inside the modem message', () => {
    const err = {
      statusCode: 500,
      json: null,
      reason: 'server error',
      message: '(HTTP code 500) server error - Get "http://127.0.0.1:5000/v2/": no basic auth credentials ',
    };
    expect(describeEngineError(err)).toEqual({ error: 'Get "http://127.0.0.1:5000/v2/": no basic auth credentials', error_code: 500 });
  });

  it('says the engine is unavailable when its socket is', () => {
    expect(describeEngineError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED /tmp/x.sock' })).toEqual({
      error: 'docker engine unavailable: connect ECONNREFUSED /tmp/x.sock',
      error_code: 502,
    });
  });
});
