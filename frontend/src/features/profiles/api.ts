import { del, get, post, put } from '../../api/client';
import type { Schema } from '../../api/schemas';

export type ProfileDefinition = Schema<'ProfileDefinitionPublic'>;
export type ProfileDefinitions = Schema<'ProfileDefinitionsPublic'>;
export type ProfilePreview = Schema<'ProfilePreviewPublic'>;

const BASE = '/api/admin/profiles';
const named = (name: string) => `${BASE}/definitions/${encodeURIComponent(name)}`;

export const listDefinitions = () => get<ProfileDefinitions>(`${BASE}/definitions`);
export const createDefinition = (text: string) => post<ProfileDefinition>(`${BASE}/definitions`, { text });
export const updateDefinition = (name: string, text: string) => put<ProfileDefinition>(named(name), { text });
export const deleteDefinition = (name: string) => del<undefined>(named(name));
export const cloneDefinition = (name: string, copy: string) => post<ProfileDefinition>(`${named(name)}/clone`, { name: copy });
export const previewProfile = (text: string) => post<ProfilePreview>(`${BASE}/preview`, { text });
