// What the logged-in user's role lets them do, so pages offer only what the hub would accept.
// The hub answers auth/current_user with Home Assistant's is_owner/is_admin and its own `role`:
// owner and admin manage, user controls, read-only only reads (hub/api/permissions.py).
import { computed } from "@preact/signals";
import { currentUser } from "./hub";

export type Role = "owner" | "admin" | "user" | "read-only";

/** The user's role, or null until the hub said who is logged in. */
export const role = computed<Role | null>(() => {
  const user = currentUser.value;
  if (!user || !user.id) return null;
  if (user.role === "owner" || user.role === "admin" || user.role === "user" || user.role === "read-only") return user.role;
  return user.is_owner ? "owner" : user.is_admin ? "admin" : "user";
});

/** Every role but read-only calls services: switch, activate, run. */
export const canControl = computed(() => role.value !== null && role.value !== "read-only");

/** Owners and admins change configuration: scenes, schedules, automations, scripts, devices, users. */
export const canManage = computed(() => role.value === "owner" || role.value === "admin");
