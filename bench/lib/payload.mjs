// The state the benchmark saves: what an agent might keep between turns, about 1 KB of JSON
// with nesting, arrays, numbers, booleans, nulls and non-ASCII text. Fixed, so runs compare.

export function agentState() {
  return {
    conversation: {
      id: "conv_7f3a9c2e41d8",
      turn: 42,
      language: "de",
      last_user_message: "Können Sie die Lieferung für Bestellung 18842 auf Donnerstag verschieben?",
      summary: "Customer asks to move delivery of order 18842; address confirmed, slot not yet chosen.",
    },
    memory: {
      facts: [
        { key: "customer_tier", value: "gold", confidence: 0.97 },
        { key: "preferred_channel", value: "email", confidence: 0.88 },
        { key: "timezone", value: "Europe/Berlin", confidence: 1 },
      ],
      preferences: { tone: "formal", max_reply_words: 120, escalate_on_complaint: true },
    },
    tools: [
      { name: "orders.lookup", calls: 3, last_status: "ok", last_ms: 184 },
      { name: "delivery.slots", calls: 1, last_status: "ok", last_ms: 421 },
      { name: "email.send", calls: 0, last_status: null, last_ms: null },
    ],
    plan: ["confirm_order", "fetch_slots", "propose_thursday_slots", "await_choice", "reschedule", "send_confirmation"],
    pending_approval: {
      id: "appr_01HX9KQ2",
      kind: "reschedule_fee",
      amount_cents: 500,
      currency: "EUR",
      requested_at: "2026-11-26T09:14:03.512Z",
    },
    counters: { tokens_in: 18231, tokens_out: 4410, retries: 1, tool_errors: 0 },
    flags: { paused: false, needs_human: false, experimental_planner: true },
    updated_by: "bench",
  };
}
