// First: React Fast Refresh's preamble as a module. The plugin's inline <script> preamble is
// blocked by the Content-Security-Policy (script-src 'self'); this import is its documented
// non-inline form, and an empty module in production builds.
import '@vitejs/plugin-react/preamble';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import './ui/styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
