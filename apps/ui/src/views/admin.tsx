import { mayCall } from '../api';
import { permissionOf } from '../contract';
import { ApiKeys } from './api-keys';
import { AuditLog } from './audit-log';

export function AdminView() {
  const mayManageKeys = mayCall('token.list');
  const mayReadAudit = mayCall('audit.list');
  return (
    <section data-view="admin">
      <h2>Admin</h2>
      {mayManageKeys ? <ApiKeys /> : null}
      {mayReadAudit ? <AuditLog /> : null}
      {!mayManageKeys && !mayReadAudit ? (
        <p class="muted">
          {`This key may neither read the audit log (${permissionOf('audit.list')}) nor manage keys (${permissionOf('token.list')}).`}
        </p>
      ) : null}
    </section>
  );
}
