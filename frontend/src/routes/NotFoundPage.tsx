import { useT } from '../i18n';
import { Link } from '../router';
import { Layout } from './Layout';

export function NotFoundPage() {
  const t = useT();
  return (
    <Layout>
      <div className="flex flex-1 flex-col items-center justify-center gap-3 p-6 text-center">
        <h1 className="text-xl font-semibold">{t('notFound.title')}</h1>
        <Link to="/" className="text-indigo-600 underline dark:text-indigo-400">
          {t('notFound.back')}
        </Link>
      </div>
    </Layout>
  );
}
