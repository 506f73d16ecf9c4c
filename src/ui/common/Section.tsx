import type { ReactNode } from 'react';

/** One step of the flow: a labelled region with a numbered heading (the number is decoration). */
export function Section({ id, step, title, children, aside }: { id: string; step: number; title: string; children: ReactNode; aside?: ReactNode }) {
  return (
    <section className="panel" aria-labelledby={`${id}-heading`} id={id}>
      <header className="panel-head">
        <h2 id={`${id}-heading`}>
          <span className="step-no" aria-hidden="true">
            {step}
          </span>
          {title}
        </h2>
        {aside}
      </header>
      {children}
    </section>
  );
}
