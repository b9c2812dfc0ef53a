import { nodePath, type NodeCall } from '../api';

/** The same call for a terminal: curl against this gateway (the key stays a variable, never printed). */
export function CopyAs({ target, nodeCall }: { target: string; nodeCall: NodeCall }) {
  const path = nodePath(target, nodeCall);
  const body = nodeCall.body === undefined ? '' : ` -H 'content-type: application/json' -d '${JSON.stringify(nodeCall.body)}'`;
  const curl = `curl -X ${nodeCall.method} -H "Authorization: Bearer $FLEET_API_KEY"${body} '${location.origin}${path}'`;
  const sdkBody = nodeCall.body === undefined ? '' : `, { body: ${JSON.stringify(nodeCall.body)} }`;
  const sdk = `await fleet.raw('${nodeCall.method}', '${path}'${sdkBody});`;
  return (
    <details class="copy-as">
      <summary>Copy as curl / SDK</summary>
      <pre data-testid="curl">{curl}</pre>
      <button onClick={() => navigator.clipboard?.writeText(curl)}>Copy curl</button>
      <pre>{sdk}</pre>
      <button onClick={() => navigator.clipboard?.writeText(sdk)}>Copy SDK</button>
    </details>
  );
}
