import { NotAvailableNotice } from "../components/common";

export default function History() {
  return (
    <section>
      <h1>History</h1>
      <NotAvailableNotice what="History" />
    </section>
  );
}
