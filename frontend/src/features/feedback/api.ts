/**
 * Feedback on answers: the user's own thumbs up or down and comment
 * (`PUT|DELETE /api/conversations/{id}/messages/{id}/feedback`), and the admin's list and
 * CSV of everyone's (`GET /api/admin/feedback`, `/api/admin/feedback.csv`).
 */
import { del, get, put, query } from '../../api/client';
import type { Schema } from '../../api/schemas';

export type Rating = Schema<'FeedbackWrite'>['rating'];
export type AnswerFeedback = Pick<Schema<'FeedbackPublic'>, 'rating' | 'comment'>;
export type FeedbackEntry = Schema<'FeedbackEntry'>;
export type FeedbackPage = Schema<'FeedbackPage'>;

/** The gateway refuses longer comments (422); the box stops there too. */
export const MAX_COMMENT = 2000;

const path = (conversationId: number, messageId: number) =>
  `/api/conversations/${conversationId}/messages/${messageId}/feedback`;

export const saveFeedback = (conversationId: number, messageId: number, body: AnswerFeedback) =>
  put<Schema<'FeedbackPublic'>>(path(conversationId, messageId), body);
export const removeFeedback = (conversationId: number, messageId: number) =>
  del<unknown>(path(conversationId, messageId));

export interface FeedbackFilters {
  rating?: '' | Rating;
  model?: string;
  profile?: string;
  from?: string;
  to?: string;
  /** '' any, 'true' only with a comment, 'false' only without. */
  has_comment?: '' | 'true' | 'false';
}

export const listFeedback = (filters: FeedbackFilters, limit: number, offset: number) =>
  get<FeedbackPage>(`/api/admin/feedback${query({ ...filters, limit, offset })}`);

export const feedbackCsvUrl = (filters: FeedbackFilters) => `/api/admin/feedback.csv${query({ ...filters })}`;

/** Clicking a thumb: the pressed one again takes the rating back; the other one sets it. */
export function nextRating(current: Rating | null, clicked: Rating): Rating | null {
  return current === clicked ? null : clicked;
}
