/**
 * A group's models as checkboxes, one per profile: a profile is checked when the group
 * names it by any of its names (name or alias). Saving keeps the names the group already
 * used and what no profile knows (a profile removed from profiles.yaml stays listed until
 * the admin unchecks it), and adds a newly checked profile by its own name.
 */
export interface ProfileNames {
  name: string;
  aliases: readonly string[];
}

const namesOf = (profile: ProfileNames) => [profile.name, ...profile.aliases];

export function checkedProfiles(models: readonly string[], profiles: readonly ProfileNames[]): Set<string> {
  const wanted = new Set(models);
  return new Set(profiles.filter((p) => namesOf(p).some((n) => wanted.has(n))).map((p) => p.name));
}

export function modelsToSave(before: readonly string[], checked: ReadonlySet<string>, profiles: readonly ProfileNames[]): string[] {
  const known = new Map<string, string>();
  for (const profile of profiles) for (const name of namesOf(profile)) known.set(name, profile.name);
  const result: string[] = [];
  const covered = new Set<string>();
  for (const name of before) {
    const profile = known.get(name);
    if (profile === undefined) result.push(name);
    else if (checked.has(profile)) {
      result.push(name);
      covered.add(profile);
    }
  }
  for (const profile of profiles) if (checked.has(profile.name) && !covered.has(profile.name)) result.push(profile.name);
  return [...new Set(result)];
}
