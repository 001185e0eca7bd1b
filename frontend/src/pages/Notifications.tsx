import { NotAvailableNotice } from "../components/common";

export default function Notifications() {
  return (
    <section>
      <h1>Notifications</h1>
      <NotAvailableNotice what="Notifications" />
    </section>
  );
}
