import { NotAvailableNotice } from "../components/common";

export default function Users() {
  return (
    <section>
      <h1>Users</h1>
      <NotAvailableNotice what="Users" />
    </section>
  );
}
