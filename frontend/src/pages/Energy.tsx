import { NotAvailableNotice } from "../components/common";

export default function Energy() {
  return (
    <section>
      <h1>Energy</h1>
      <NotAvailableNotice what="Energy" />
    </section>
  );
}
