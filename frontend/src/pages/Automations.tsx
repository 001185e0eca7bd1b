import { NotAvailableNotice } from "../components/common";

export default function Automations() {
  return (
    <section>
      <h1>Automations</h1>
      <NotAvailableNotice what="Automations" />
    </section>
  );
}
