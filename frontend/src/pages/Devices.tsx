import { NotAvailableNotice } from "../components/common";

export default function Devices() {
  return (
    <section>
      <h1>Devices</h1>
      <NotAvailableNotice what="Devices" />
    </section>
  );
}
