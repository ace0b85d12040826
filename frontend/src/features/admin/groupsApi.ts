/** Groups: `/api/admin/groups` and their members. */
import { del, get, patch, post, put } from '../../api/client';
import type { Schema } from '../../api/schemas';
import type { UserLimits } from '../auth/api';

export type GroupPublic = Schema<'GroupPublic'>;
export type GroupDetail = Schema<'GroupDetail'>;

export interface GroupBody {
  name: string;
  description: string;
  models: string[];
  limits: UserLimits | null;
}

const path = (id: number) => `/api/admin/groups/${id}`;

export const listGroups = () => get<Schema<'GroupsPublic'>>('/api/admin/groups');
export const getGroup = (id: number) => get<GroupDetail>(path(id));
export const createGroup = (body: GroupBody) => post<GroupDetail>('/api/admin/groups', body);
export const updateGroup = (id: number, body: Partial<GroupBody>) => patch<GroupDetail>(path(id), body);
export const deleteGroup = (id: number) => del<undefined>(path(id));
export const addMember = (id: number, userId: number) => put<undefined>(`${path(id)}/members/${userId}`);
export const removeMember = (id: number, userId: number) => del<undefined>(`${path(id)}/members/${userId}`);
