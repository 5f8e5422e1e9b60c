/** Browser entry: styles, then the app (login form first; Phaser loads once a session starts). */
import './client/style.css';
import { startApp } from './client/app.js';

startApp();
