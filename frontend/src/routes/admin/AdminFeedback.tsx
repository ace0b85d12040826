import { FeedbackPanel } from '../../features/feedback/FeedbackPanel';

export function AdminFeedback() {
  return <FeedbackPanel />;
}
