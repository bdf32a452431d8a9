import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../durable-objects/shared/group-commit";

/** A write that records what it was given and finishes when the test says so. */
function controlledWrite() {
  const writes: number[][] = [];
  const finish: Array<(err?: Error) => void> = [];
  const write = (items: number[]) => {
    writes.push(items);
    return new Promise<void>((resolve, reject) => finish.push((err) => (err ? reject(err) : resolve())));
  };
  return { writes, finish, write };
}

const settled = (p: Promise<void>) =>
  p.then(
    () => "written",
    (e: Error) => `failed: ${e.message}`,
  );
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("GroupCommit", () => {
  it("writes a lone item at once, and items that arrive during a write share the next one", async () => {
    const w = controlledWrite();
    const gc = new GroupCommit(w.write, 10);
    const first = settled(gc.add([1]));
    expect(w.writes).toEqual([[1]]);
    const later = [settled(gc.add([2])), settled(gc.add([3, 4])), settled(gc.add([5]))];
    expect(w.writes).toHaveLength(1);
    w.finish[0]!();
    expect(await first).toBe("written");
    await tick();
    expect(w.writes).toEqual([[1], [2, 3, 4, 5]]);
    w.finish[1]!();
    expect(await Promise.all(later)).toEqual(["written", "written", "written"]);
  });

  it("a failed write rejects exactly the callers whose items it carried", async () => {
    const w = controlledWrite();
    const gc = new GroupCommit(w.write, 10);
    const first = settled(gc.add([1]));
    const second = settled(gc.add([2]));
    const third = settled(gc.add([3]));
    w.finish[0]!(new Error("D1 down"));
    expect(await first).toBe("failed: D1 down");
    await tick();
    w.finish[1]!();
    expect(await Promise.all([second, third])).toEqual(["written", "written"]);
    expect(w.writes).toEqual([[1], [2, 3]]);
  });

  it("keeps each write within maxItems without splitting one caller's items", async () => {
    const w = controlledWrite();
    const gc = new GroupCommit(w.write, 4);
    const all = [gc.add([0]), gc.add([1, 2]), gc.add([3, 4]), gc.add([5]), gc.add([6, 7, 8, 9, 10])].map(settled);
    for (let i = 0; i < 4; i++) {
      w.finish[i]?.();
      await tick();
    }
    // [1, 2] and [3, 4] fill a write; [5] cannot join [6…10], which goes alone although larger.
    expect(w.writes).toEqual([[0], [1, 2, 3, 4], [5], [6, 7, 8, 9, 10]]);
    expect(await Promise.all(all)).toEqual(Array(5).fill("written"));
  });
});
